// BenchTests arrive with issue 6.
