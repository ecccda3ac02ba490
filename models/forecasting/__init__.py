"""Demand forecasting: pure functions from sales history DataFrames to forecast DataFrames."""
