"""Pages answer in every language of the packs (issue 13 starts here: the coverage page)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_the_immunization_coverage_page_answers_in_every_language(client, make_user, login):
    """It answered 500 in uz, ru and kk: a translation held a bare "%"."""
    auth = await login(await make_user("analyst"))
    for lang in ("en", "ru", "uz", "kk"):
        client.cookies.set("salomat_lang", lang)
        r = await client.get("/dashboard/immunization", headers=auth)
        assert r.status_code == 200, (lang, r.text[:500])
        assert f'<html lang="{lang}"' in r.text
