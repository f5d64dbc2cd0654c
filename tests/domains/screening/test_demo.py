"""The demo section proposed for the packs' demo.yaml (docs/screening.md): loaded onto
people like the demo's, it fills the card's trend and every worklist, and loads once."""

# ruff: noqa: E501 (the demo file's lines, as proposed)
from __future__ import annotations

from datetime import date

import pytest
import yaml

from salomat.core.errors import Invalid
from salomat.domains.screening import service
from salomat.domains.screening.service.common import today as country_today

pytestmark = pytest.mark.anyio

#: the ``screening:`` section proposed for UZ/demo.yaml (national ids of its people)
UZ_DEMO = yaml.safe_load("""
  steps:
    - {screen: "32001582240610", programme: address_screening, day: -200, result: abnormal, next_step: enrol, bp: [168, 102], glucose_fasting: [5.6, mmol/L], smoking: current}
    - {enrol: "32001582240610", programme: hypertension, diagnosis: I10, day: -195, prior_mi_stroke: false}
    - {visit: "32001582240610", programme: hypertension, day: -170, bp: [158, 96]}
    - {visit: "32001582240610", programme: hypertension, day: -140, bp: [148, 92]}
    - {visit: "32001582240610", programme: hypertension, day: -100, bp: [136, 86]}
    - {visit: "32001582240610", programme: hypertension, day: -60, bp: [134, 84], next: -20}
    - {screen: "40806612189711", programme: address_screening, day: -150, result: abnormal, next_step: enrol, bp: [150, 90], glucose_fasting: [148, mg/dL], hba1c: [8.1, "%"]}
    - {enrol: "40806612189711", programme: t2dm, diagnosis: E11.9, day: -145}
    - {enrol: "40806612189711", programme: hypertension, diagnosis: I11.9, day: -145, prior_mi_stroke: true}
    - {visit: "40806612189711", programme: t2dm, day: -110, hba1c: [7.4, "%"], next: -60}
    - {visit: "40806612189711", programme: hypertension, day: -110, bp: [146, 88], next: -60}
    - {enrol: "31509492196467", programme: hypertension, diagnosis: I10, day: -300, prior_mi_stroke: false}
    - {visit: "31509492196467", programme: hypertension, day: -250, bp: [186, 112], next: -200}
    - {screen: "33004722215748", programme: address_screening, day: -30, result: normal, bp: [124, 78], glucose_fasting: [99, mg/dL], cholesterol: [5.1, mmol/L], bmi: 27.4, smoking: never}
    - {screen: "41210682191067", programme: address_screening, day: -400, result: normal, bp: [130, 82]}
""")

#: the ``screening:`` section proposed for KZ/demo.yaml
KZ_DEMO = yaml.safe_load("""
  steps:
    - {screen: "520425391337", programme: cvd_dm_risk, day: -200, result: abnormal, next_step: enrol, bp: [168, 102], glucose_fasting: [5.6, mmol/L], smoking: current}
    - {enrol: "520425391337", programme: hypertension, diagnosis: I10, day: -195, prior_mi_stroke: false}
    - {visit: "520425391337", programme: hypertension, day: -170, bp: [158, 96]}
    - {visit: "520425391337", programme: hypertension, day: -100, bp: [136, 86]}
    - {visit: "520425391337", programme: hypertension, day: -60, bp: [134, 84], next: -20}
    - {screen: "651201443743", programme: cvd_dm_risk, day: -150, result: abnormal, next_step: enrol, bp: [150, 90], glucose_fasting: [148, mg/dL]}
    - {enrol: "651201443743", programme: t2dm, diagnosis: E11.9, day: -145}
    - {enrol: "651201443743", programme: hypertension, diagnosis: I11.9, day: -145, prior_mi_stroke: true}
    - {visit: "651201443743", programme: t2dm, day: -110, hba1c: [7.4, "%"], next: -60}
    - {visit: "651201443743", programme: hypertension, day: -110, bp: [146, 88], next: -60}
    - {enrol: "600229349995", programme: hypertension, diagnosis: I10, day: -300, prior_mi_stroke: false}
    - {visit: "600229349995", programme: hypertension, day: -250, bp: [186, 112], next: -200}
    - {screen: "700619461466", programme: cervical, day: -30, result: normal, cytology: nilm, hpv: negative}
    - {screen: "740930423411", programme: breast, day: -800, result: normal, mammography: "1"}
""")

#: the demo people the section names: (birth date, sex)
PEOPLE = {
    "32001582240610": (date(1958, 1, 20), "male"),
    "40806612189711": (date(1961, 6, 8), "female"),
    "31509492196467": (date(1949, 9, 15), "male"),
    "33004722215748": (date(1972, 4, 30), "male"),
    "41210682191067": (date(1968, 10, 12), "female"),
}


async def test_the_demo_section_fills_the_worklists(scr):
    ids = {}
    for nid, (born, sex) in PEOPLE.items():
        ids[nid] = (await scr.make_patient(born, sex=sex)).id
    made = await service.load_demo_screening(
        scr.db, UZ_DEMO, ids, facility_code=scr.polyclinic.code
    )
    await scr.db.commit()
    assert made == len(UZ_DEMO["steps"])
    day = country_today()
    p = scr.principal()

    async def patients(kind: str) -> dict[int, list[str]]:
        w = await service.dmp_worklist(scr.db, p, kind, day)
        return {r.person_id: r.reasons for r in w.patients}

    overdue = await patients("overdue")
    assert set(overdue) == {ids["32001582240610"], ids["40806612189711"], ids["31509492196467"]}
    high = await patients("high_risk")
    assert high == {
        ids["40806612189711"]: ["prior_event_bp"],
        ids["31509492196467"]: ["bp_180_110"],
    }
    uncontrolled = await patients("uncontrolled")
    assert ids["32001582240610"] not in uncontrolled  # 134/84 now
    assert uncontrolled[ids["40806612189711"]] == ["bp", "sugar"]  # 146/88, HbA1c 7.4
    invited = await service.invitation_worklist(scr.db, p, day)
    who = {r.person_id for r in invited.invitations}
    assert ids["41210682191067"] in who  # screened 400 days ago: due again
    assert ids["33004722215748"] not in who  # screened last month
    assert ids["32001582240610"] not in who  # under observation for hypertension
    card = await service.programme_card(scr.db, p, ids["32001582240610"])
    assert [t.controlled for t in card.bp_trend] == [False, False, False, True, True]
    await scr.db.commit()
    # a second load adds nothing
    assert (
        await service.load_demo_screening(scr.db, UZ_DEMO, ids, facility_code=scr.polyclinic.code)
        == 0
    )


async def test_a_wrong_step_is_named(scr):
    with pytest.raises(Invalid) as exc:
        await service.load_demo_screening(
            scr.db,
            {"steps": [{"screen": "nobody", "programme": "health_profile", "day": -1}]},
            {},
            facility_code=scr.polyclinic.code,
        )
    assert [e.field for e in exc.value.errors] == ["screening.steps.0"]


async def test_the_kazakh_demo_section_loads(scr, kz):
    people = {
        "520425391337": (date(1952, 4, 25), "male"),
        "651201443743": (date(1965, 12, 1), "female"),
        "600229349995": (date(1960, 2, 29), "male"),
        "700619461466": (date(1970, 6, 19), "female"),
        "740930423411": (date(1974, 9, 30), "female"),
    }
    ids = {nid: (await scr.make_patient(b, sex=s)).id for nid, (b, s) in people.items()}
    made = await service.load_demo_screening(
        scr.db, KZ_DEMO, ids, facility_code=scr.polyclinic.code
    )
    assert made == len(KZ_DEMO["steps"])
    p = scr.principal()
    w = await service.dmp_worklist(scr.db, p, "high_risk", country_today())
    assert {r.person_id for r in w.patients} == {ids["651201443743"], ids["600229349995"]}
    invited = await service.invitation_worklist(scr.db, p, country_today(), programme="breast")
    assert ids["740930423411"] in {r.person_id for r in invited.invitations}
    await scr.db.commit()
