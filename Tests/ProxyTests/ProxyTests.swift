// ProxyTests arrive with issue 3.
