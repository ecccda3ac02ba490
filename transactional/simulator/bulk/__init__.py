"""The vectorised simulator: a merchant's whole history drawn in arrays and loaded in bulk."""
