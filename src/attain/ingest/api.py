"""The ingest router: imports and data quality (mounted by `attain.api`)."""

from ninja import Router

from attain.ingest.imports_api import router as imports_router
from attain.ingest.quality.api import router as quality_router

router = Router()

# --- Data quality: scores, findings and fixes, under /quality (ingest/quality/api.py) ---
router.add_router("/quality", quality_router)

# --- Imports: uploads, dry runs, jobs, problems and mapping profiles, under /imports
# (ingest/imports_api.py) ---
router.add_router("/imports", imports_router)
