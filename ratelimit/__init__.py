"""The pieces behind `token_manager`: window arithmetic, storage, estimates, budgets."""
