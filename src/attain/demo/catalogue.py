"""The fixed vocabulary of the demo company: regions, currencies, stages, products, word lists."""

from __future__ import annotations

from dataclasses import dataclass

from attain.crm.models import ForecastCategory, Segment


@dataclass(frozen=True, slots=True)
class StageSpec:
    name: str
    order: int
    probability: int
    forecast_category: str
    is_won: bool = False
    is_lost: bool = False


# The default pipeline. The first five are the open stages deals move through in order.
DEFAULT_STAGES: tuple[StageSpec, ...] = (
    StageSpec("Prospecting", 1, 10, ForecastCategory.PIPELINE),
    StageSpec("Qualification", 2, 20, ForecastCategory.PIPELINE),
    StageSpec("Discovery", 3, 40, ForecastCategory.PIPELINE),
    StageSpec("Proposal", 4, 60, ForecastCategory.BEST_CASE),
    StageSpec("Negotiation", 5, 80, ForecastCategory.COMMIT),
    StageSpec("Closed Won", 6, 100, ForecastCategory.CLOSED, is_won=True),
    StageSpec("Closed Lost", 7, 0, ForecastCategory.OMITTED, is_lost=True),
)
OPEN_STAGE_COUNT = 5

# Segments in the order the simulation indexes them (0, 1, 2).
SEGMENTS: tuple[str, ...] = (Segment.SMB, Segment.MID_MARKET, Segment.ENTERPRISE)
SEGMENT_LABELS: tuple[str, ...] = ("SMB", "Mid-market", "Enterprise")

DEAL_TYPES: tuple[str, ...] = ("new", "expansion", "renewal")

# Region name, short code, currency of its people, account countries with their weights.
REGIONS: dict[str, tuple[str, str, tuple[tuple[str, float], ...]]] = {
    "North America": ("NA", "USD", (("US", 0.85), ("CA", 0.15))),
    "EMEA": ("EMEA", "EUR", (("GB", 0.35), ("DE", 0.3), ("FR", 0.2), ("NL", 0.15))),
    "APAC": ("APAC", "AUD", (("AU", 0.6), ("SG", 0.4))),
}

COUNTRY_CURRENCY = {
    "US": "USD", "CA": "CAD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR",
    "AU": "AUD", "SG": "SGD",
}

# Company-currency (USD) value of one unit, at the start of the history; rates walk monthly.
START_RATES = {"CAD": 0.74, "EUR": 1.08, "GBP": 1.27, "AUD": 0.66, "SGD": 0.74}

# The order in which teams are given a (region, segment): NA half, EMEA 30 %, APAC 20 %.
TEAM_PATTERN: tuple[tuple[str, int], ...] = (
    ("North America", 1), ("EMEA", 0), ("North America", 0), ("APAC", 1),
    ("North America", 2), ("EMEA", 1), ("North America", 0), ("EMEA", 2),
    ("APAC", 0), ("North America", 1),
)

LEAD_SOURCES: tuple[str, ...] = ("Inbound", "Outbound", "Partner", "Event", "Referral")
LEAD_SOURCE_WEIGHTS: tuple[float, ...] = (0.35, 0.30, 0.15, 0.10, 0.10)
EXISTING_CUSTOMER_SOURCE = "Existing customer"

LOSS_REASONS: tuple[str, ...] = ("Price", "Competitor", "No decision", "Timing", "Product fit")
# Why deals die early (Prospecting, Qualification) and late (Discovery onwards).
EARLY_LOSS_WEIGHTS: tuple[float, ...] = (0.05, 0.05, 0.40, 0.25, 0.25)
LATE_LOSS_WEIGHTS: tuple[float, ...] = (0.30, 0.30, 0.20, 0.10, 0.10)

# Product external id, name, family, list price in USD.
PRODUCTS: tuple[tuple[str, str, str, int], ...] = (
    ("PRD-STARTER", "Attain Cloud Starter", "Platform", 6_000),
    ("PRD-PRO", "Attain Cloud Professional", "Platform", 24_000),
    ("PRD-ENT", "Attain Cloud Enterprise", "Platform", 90_000),
    ("PRD-ANALYTICS", "Advanced Analytics", "Add-ons", 8_000),
    ("PRD-INTEGRATIONS", "Integration Hub", "Add-ons", 5_000),
    ("PRD-SECURITY", "Security & Compliance Pack", "Add-ons", 12_000),
    ("PRD-ONBOARDING", "Onboarding Package", "Services", 3_000),
    ("PRD-TRAINING", "Training Days", "Services", 1_500),
    ("PRD-SUPPORT", "Premium Support", "Services", 10_000),
)
# The main product of a deal by segment (index into PRODUCTS); extra lines are add-ons/services.
# The mix of main products (Starter, Professional, Enterprise) sold in each segment (SMB, mid-
# market, enterprise): small companies mostly buy Starter, some grow into Professional; mid-
# market mostly Professional; enterprises mostly Enterprise, divisions Professional.
MAIN_PRODUCTS = (0, 1, 2)
MAIN_PRODUCT_MIX_BY_SEGMENT: tuple[tuple[float, float, float], ...] = (
    (0.75, 0.25, 0.00), (0.15, 0.70, 0.15), (0.00, 0.30, 0.70))
EXTRA_PRODUCTS = (3, 4, 5, 6, 7, 8)
# A won deal's product lines: the main product, one add-on in two deals, another in five:
# 1 + 0.5 + 0.2 = 1.7 lines on average.
PRODUCT_LINES_PER_DEAL = 1.7
# When more lines per deal are asked for, each product line is split by site and billing period;
# how many extra splits a deal gets, relative to others, by segment (SMB: one site, billed
# yearly; enterprise: many sites and subsidiaries, billed monthly or quarterly).
SPLIT_WEIGHT_BY_SEGMENT = (1.0, 4.0, 16.0)

INDUSTRIES: tuple[str, ...] = (
    "Software", "Financial services", "Healthcare", "Manufacturing", "Retail", "Logistics",
    "Education", "Media", "Energy", "Telecommunications", "Professional services", "Insurance",
)

COMPANY_PREFIXES: tuple[str, ...] = (
    "Northwind", "Bluewater", "Crescent", "Summit", "Redwood", "Ironbridge", "Silverline",
    "Harbor", "Evergreen", "Granite", "Lumen", "Vertex", "Cobalt", "Meridian", "Orchid",
    "Pioneer", "Quantum", "Riverside", "Sterling", "Tidewell", "Umbra", "Vantage", "Westfield",
    "Zephyr", "Aurora", "Beacon", "Cedar", "Delta", "Falcon", "Golden", "Highland", "Juniper",
    "Keystone", "Lakeside", "Maple", "Nimbus", "Oakmont", "Polar", "Atlas", "Brightpath",
)
COMPANY_NOUNS: tuple[str, ...] = (
    "Analytics", "Logistics", "Health", "Systems", "Foods", "Capital", "Energy", "Labs",
    "Robotics", "Media", "Networks", "Partners", "Retail", "Manufacturing", "Software",
    "Insurance", "Studios", "Dynamics", "Holdings", "Supply", "Mobility", "Pharma", "Works",
    "Security", "Consulting",
)
COMPANY_SUFFIX_BY_COUNTRY = {
    "US": "Inc.", "CA": "Inc.", "GB": "Ltd", "DE": "GmbH", "FR": "SA", "NL": "B.V.",
    "AU": "Pty Ltd", "SG": "Pte Ltd",
}

FIRST_NAMES: tuple[str, ...] = (
    "Ava", "Liam", "Noah", "Emma", "Olivia", "Mia", "Lucas", "Sofia", "Ethan", "Amelia",
    "Mateo", "Chloe", "Hiro", "Priya", "Arjun", "Fatima", "Omar", "Lena", "Jonas", "Elena",
    "Marco", "Giulia", "Sven", "Ingrid", "Chen", "Mei", "Kofi", "Amara", "Diego", "Lucia",
    "Yusuf", "Aisha", "Tom", "Grace", "Ben", "Hannah", "Samuel", "Zoe", "Daniel", "Nora",
    "Kenji", "Aiko", "Rahul", "Ananya", "Pierre", "Claire", "Felix", "Mila", "Oscar", "Isla",
)
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Garcia", "Müller", "Schmidt", "Dubois", "Martin", "Rossi", "Bianchi",
    "Jansen", "de Vries", "Nguyen", "Tanaka", "Sato", "Kim", "Lee", "Chen", "Wang", "Patel",
    "Sharma", "Okafor", "Mensah", "Silva", "Santos", "Kowalski", "Nowak", "Andersson",
    "Johansson", "O'Brien", "Murphy", "Walker", "Brown", "Taylor", "Wilson", "Clarke", "Hughes",
    "Khan", "Ali", "Fischer", "Weber", "Moreau", "Laurent", "Costa", "Ferreira", "Novak", "Horvat",
    "Ivanova", "Cohen", "Levy", "Park",
)
CONTACT_TITLES: tuple[str, ...] = (
    "Chief Revenue Officer", "VP Sales", "Head of Sales Operations", "Chief Financial Officer",
    "IT Director", "Procurement Manager", "Chief Operating Officer", "Head of Analytics",
    "Operations Manager", "CTO",
)
