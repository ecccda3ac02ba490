"""The dashboard's pages and which account roles see them.

Sub-accounts see their own modules (procurement: stock and buying; sales: selling and customers;
finance: money), owners and platform admins see every page. A page is added here, once, with its
roles; `streamlit_app.py` builds the navigation from this list.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from transactional.users import ROLES

APP_PAGES = Path(__file__).resolve().parent / "app_pages"

EVERY_ROLE = frozenset(ROLES)


@dataclass(frozen=True)
class PageSpec:
    script: str
    title_key: str
    icon: str
    url_path: str
    roles: frozenset[str]

    @property
    def path(self) -> Path:
        return APP_PAGES / self.script


def _roles(*sub_accounts: str) -> frozenset[str]:
    return frozenset({"owner", "admin", *sub_accounts})


PAGE_SPECS: tuple[PageSpec, ...] = (
    PageSpec("overview.py", "nav_overview", ":material/dashboard:", "overview", EVERY_ROLE),
    PageSpec("sales.py", "nav_sales", ":material/bar_chart:", "sales", _roles("sales")),
    PageSpec("funnel.py", "nav_funnel", ":material/filter_alt:", "funnel", _roles("sales")),
    PageSpec("products.py", "nav_products", ":material/category:", "products", _roles("sales", "procurement")),
    PageSpec("inventory.py", "nav_inventory", ":material/inventory_2:", "inventory", _roles("procurement")),
    PageSpec("customers.py", "nav_customers", ":material/person_alert:", "customers", _roles("sales")),
    PageSpec("customer_insight.py", "nav_customer_insight", ":material/groups:", "customer-insight", _roles("sales")),
    PageSpec("prices.py", "nav_prices", ":material/trending_up:", "prices", _roles("procurement")),
    PageSpec("forecast.py", "nav_forecast", ":material/inventory:", "forecast", _roles("procurement")),
    PageSpec("suppliers.py", "nav_suppliers", ":material/local_shipping:", "suppliers", _roles("procurement")),
    PageSpec("finance.py", "nav_finance", ":material/account_balance:", "finance", _roles("finance")),
)


def pages_for(role: str) -> list[PageSpec]:
    """The pages an account of `role` may open, in menu order; the first is the landing page."""
    if role not in EVERY_ROLE:
        raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return [spec for spec in PAGE_SPECS if role in spec.roles]


def page_imports(spec: PageSpec) -> list[str]:
    """The modules the page's script imports at its top level (`from package import module` too)."""
    tree = ast.parse(spec.path.read_text(encoding="utf-8"), filename=str(spec.path))
    modules: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
            package = importlib.import_module(node.module)
            if hasattr(package, "__path__"):
                names = (f"{node.module}.{alias.name}" for alias in node.names)
                modules.extend(name for name in names if importlib.util.find_spec(name) is not None)
    return modules


def import_page_modules() -> None:
    """Import what every page imports, so that the first visit of a page in this server process
    does not pay for it: Streamlit runs a page's script only when it is opened, and importing the
    chart modules (Altair) alone took 0.5 s of the first chart page's render."""
    for spec in PAGE_SPECS:
        for module in page_imports(spec):
            importlib.import_module(module)
