"""Prefect flows: the entry points that run scenarios on a schedule. They hold no business
logic: each task calls one service function with batches of ids."""
