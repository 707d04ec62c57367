// QueryTests arrive with issue 4.
