"""The model server every deployment unit runs."""
