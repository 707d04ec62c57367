// Replay of recorded sessions lives here (issue 5).
enum ReplayModule {}
