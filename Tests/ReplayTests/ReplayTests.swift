// ReplayTests arrive with issue 5.
