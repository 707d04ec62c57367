// The load generator and synthetic data live here (issue 6).
enum BenchModule {}
