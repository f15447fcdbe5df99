"""Reports over run folders: comparisons across platforms and campaign plans."""
