"""Machine learning on DataFrames: forecasting, replenishment. Never touches a database."""
