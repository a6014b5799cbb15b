"""The citizens' search is rate-limited per caller by its action, so the public web page and the public
API share one budget (KB_RATE_LIMIT_PUBLIC_SEARCH); a refused search is neither run nor logged."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kb.app import create_app
from kb.search.models import QueryLog
from tests.factories import make_cast, make_document


def test_the_public_page_and_the_public_api_share_the_rate_limit(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    make_document(database, cast, slug="child-benefit", state="approved",
                  body="# Child benefit\n\nChild benefit is paid every quarter for each child under 18.")
    limited = settings.model_copy(update={"rate_limit_public_search": "2/minute"})
    with TestClient(create_app(limited, database=database)) as client:
        api = client.get("/public/v1/search", params={"q": "child benefit"})
        assert api.status_code == 200 and api.headers["X-RateLimit-Remaining"] == "1"
        assert client.get("/public", params={"q": "child benefit"}).status_code == 200
        refused_page = client.get("/public", params={"q": "child benefit"})
        refused_api = client.get("/public/v1/search", params={"q": "child benefit"})
        assert client.get("/public").status_code == 200  # the page without a query searches nothing
    assert (refused_page.status_code, refused_api.status_code) == (429, 429)
    assert refused_api.headers["Retry-After"] and refused_api.json()["error"]["code"] == "rate_limited"
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(QueryLog)).scalar_one() == 2
