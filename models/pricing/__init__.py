"""Price trends (价格趋势): monthly price series and category indexes, their trend, change points and a 1..3 month
outlook, and buy-ahead / wait hints so merchants can time bulk buying of key commodities."""

from models.pricing.evaluation import evaluate_change_points, evaluate_outlook
from models.pricing.pipeline import PriceTrendResult, price_trends
from models.pricing.settings import PriceSettings

__all__ = ["PriceSettings", "PriceTrendResult", "evaluate_change_points", "evaluate_outlook", "price_trends"]
