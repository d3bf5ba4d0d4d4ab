"""Use cases. Each function takes plain values and a unit of work, and returns plain values."""
