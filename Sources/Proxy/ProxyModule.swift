// The recording proxy lives here (issue 3).
enum ProxyModule {}
