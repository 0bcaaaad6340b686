"""Public hazard reports (安全生产隐患举报): submission without an account, tracking by receipt
code, and the data the handling regulator works on."""
