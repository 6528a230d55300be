"""A test-side loader of `../shared/datasets/superstore/` into Booking rows (until the import
mapping exists): one team per Region, one product per Product ID with the Category as its
family, one booking per order line on its Order Date, Sales parsed as an exact Decimal and
rounded once to cents (half to even). Nothing else of the file is needed by the forecast."""

from __future__ import annotations

import csv
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from attain.crm.models import Booking, Product
from attain.people.models import Team
from tests.conftest import shared_dataset

SUPERSTORE = shared_dataset("superstore", "Sample - Superstore.csv")


def parse_day(text: str) -> date:
    month, day, year = (int(part) for part in text.split("/"))
    return date(year, month, day)


def load_superstore(path: Path = SUPERSTORE) -> int:
    """Load the order lines as bookings; returns how many."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.DictReader(handle))
    teams = {name: Team.objects.create(name=name)
             for name in sorted({line["Region"] for line in lines})}
    products: dict[str, Product] = {}
    for line in lines:
        if line["Product ID"] not in products:
            products[line["Product ID"]] = Product(
                external_id=line["Product ID"], name=line["Product Name"][:200],
                family=line["Category"], list_price=Decimal(0), currency="USD")
    Product.objects.bulk_create(products.values(), batch_size=2000)
    by_id = {p.external_id: p for p in Product.objects.all()}
    Booking.objects.bulk_create([
        Booking(external_id=f"SS-{line['Row ID']}", team=teams[line["Region"]],
                product=by_id[line["Product ID"]], quantity=Decimal(line["Quantity"]),
                amount=Decimal(line["Sales"]).quantize(Decimal("0.01"), ROUND_HALF_EVEN),
                source_amount=Decimal(line["Sales"]), currency="USD",
                booked_on=parse_day(line["Order Date"]))
        for line in lines], batch_size=2000)
    return len(lines)
