"""Demand forecasting: pure functions from sales history DataFrames to forecast DataFrames."""

import logging

# Prophet's plotting module logs an error when plotly is not installed, at import, in every
# command that forecasts; nothing here draws Prophet's plots, so plotly is not a dependency.
logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
