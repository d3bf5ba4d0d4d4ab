"""Local provider stubs and contract validation for the adapter tests."""
