"""A seeded generator of Online Retail rows: the schema of the UCI "Online Retail" file (a UK
gift wholesaler's 2010-2011 invoices, 541,909 rows, 45 MB), at a size a workflow run can take.

Prices follow rules the model can learn and the RMSE gate can judge: each product has a base
price from its kind and size (a JUMBO BAG costs more than a MINI one), bulk quantities get a
discount, and a few percent of noise stays. As in the real file, some rows are cancellations
(InvoiceNo `C...`, negative Quantity) and some have no CustomerID.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta

COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
           "CustomerID", "Country")
KINDS = {"T-LIGHT HOLDER": 2.95, "LANTERN": 4.25, "MUG": 1.65, "LUNCH BAG": 1.65,
         "WALL CLOCK": 8.50, "CUSHION COVER": 3.75, "PHOTO FRAME": 2.55, "CAKE STAND": 10.95,
         "NOTEBOOK": 0.85, "DOORMAT": 7.95, "PLANTER": 5.95, "JAM JAR": 1.25}
SIZES = {"MINI": 0.6, "SMALL": 0.8, "": 1.0, "LARGE": 1.35, "JUMBO": 1.7}
COLOURS = ("WHITE", "RED", "PINK", "BLUE", "IVORY", "GREEN", "VINTAGE", "RETRO")
COUNTRIES = {"United Kingdom": 82, "Germany": 4, "France": 4, "EIRE": 3, "Spain": 2,
             "Netherlands": 2, "Belgium": 1, "Switzerland": 1, "Portugal": 1}
QUANTITIES = {1: 10, 2: 12, 3: 8, 4: 10, 6: 14, 8: 6, 10: 6, 12: 16, 24: 10, 48: 5, 96: 3}
START = datetime(2010, 12, 1, 8, 26)


def _products(rng: random.Random, count: int) -> list[tuple[str, str, float]]:
    """(StockCode, Description, base price) of `count` distinct products."""
    products: dict[str, tuple[str, str, float]] = {}
    while len(products) < count:
        kind, size = rng.choice(list(KINDS)), rng.choice(list(SIZES))
        code = f"{rng.randint(20000, 90000)}{rng.choice(('', '', '', 'A', 'B', 'C'))}"
        description = " ".join(part for part in (size, rng.choice(COLOURS), kind) if part)
        products[code] = (code, description, KINDS[kind] * SIZES[size] * rng.uniform(0.9, 1.1))
    return list(products.values())


def _discount(quantity: int) -> float:
    return 0.8 if quantity >= 48 else 0.9 if quantity >= 12 else 1.0


def generate(invoices: int = 800, seed: int = 7, products: int = 200) -> list[dict[str, str]]:
    """Rows as the real file's CSV export writes them (strings, dates as `12/1/2010 8:26`)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not a secret
    catalogue = _products(rng, products)
    customers = [(f"{customer}.0", rng.choices(list(COUNTRIES), list(COUNTRIES.values()))[0])
                 for customer in rng.sample(range(12346, 18288), 300)]
    rows, when = [], START
    for number in range(536365, 536365 + invoices):
        when += timedelta(minutes=rng.randint(5, 600))
        customer, country = rng.choice(customers)
        if rng.random() < 0.05:
            customer = ""  # as in the real file, a sale without a customer record
        cancelled = rng.random() < 0.03
        for code, description, base in rng.sample(catalogue, rng.randint(1, 12)):
            quantity = rng.choices(list(QUANTITIES), list(QUANTITIES.values()))[0]
            price = base * _discount(quantity) * rng.uniform(0.97, 1.03)
            rows.append({
                "InvoiceNo": f"C{number}" if cancelled else str(number), "StockCode": code,
                "Description": description, "Quantity": str(-quantity if cancelled else quantity),
                "InvoiceDate": f"{when.month}/{when.day}/{when.year} {when.hour}:{when.minute:02d}",
                "UnitPrice": f"{price:.2f}", "CustomerID": customer, "Country": country})
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()
