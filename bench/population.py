"""A synthetic national population for the search benchmark.

Realistic Uzbek and Kazakh names in both scripts (Uzbek mostly entered in
Latin, Kazakh mostly in Cyrillic, as clerks do), birth dates from 1930 to
last year, both sexes, a valid national id (PINFL for UZ, IIN for KZ) for
95 % of people. Names, skeletons and transliterations come from
``salomat.country.names``, computed once per distinct name (the pools are
small), so a million rows take a minute or two, not hours.

Each database is generated once and cached: SQLite files under
``var/bench/`` (gitignored), PostgreSQL in one schema per size of the
``bench`` database. A marker table says the population is complete, so an
interrupted load is redone and a finished one reused.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text

from salomat.country import names
from salomat.country.national_id import iin_check_digit, pinfl_check_digit

# ---- name pools (common names; Uzbek in the 1995 Latin orthography, Kazakh in Cyrillic) --

UZ_MALE = [
    "Alisher",
    "Bobur",
    "Jasur",
    "Sardor",
    "Otabek",
    "Ulug'bek",
    "Rustam",
    "Shavkat",
    "Farrux",
    "Doniyor",
    "Akmal",
    "Aziz",
    "Bekzod",
    "Dilshod",
    "Eldor",
    "Javohir",
    "Jamshid",
    "Kamol",
    "Nodir",
    "Odil",
    "Rashid",
    "Sanjar",
    "Sherzod",
    "Temur",
    "Umid",
    "Xurshid",
    "Zafar",
    "Ilhom",
    "Islom",
    "Abdulla",
    "Abror",
    "Anvar",
    "Baxtiyor",
    "Bahodir",
    "Botir",
    "Davron",
    "Erkin",
    "Fazliddin",
    "G'ayrat",
    "Hamid",
    "Husan",
    "Ibrohim",
    "Jahongir",
    "Komil",
    "Mansur",
    "Murod",
    "Nurbek",
    "Oybek",
    "Po'lat",
    "Qodir",
    "Ravshan",
    "Sobir",
    "Shuhrat",
    "Yusuf",
    "Zokir",
    "Behruz",
    "Farhod",
    "Olim",
    "Hasan",
    "Karim",
    "Ergash",
    "Toshpo'lat",
    "Sirojiddin",
    "Muhammadali",
    "Abduraxmon",
    "Azamat",
    "Shoxrux",
    "Asilbek",
    "Diyor",
    "Firdavs",
    "Hojiakbar",
    "Ismoil",
    "Mirjalol",
]
UZ_FEMALE = [
    "Dilnoza",
    "Gulnora",
    "Malika",
    "Madina",
    "Nigora",
    "Shahnoza",
    "Zarina",
    "Feruza",
    "Nodira",
    "Dildora",
    "Kamola",
    "Laylo",
    "Mohira",
    "Nilufar",
    "Oydin",
    "Sevara",
    "Umida",
    "Xurshida",
    "Yulduz",
    "Zulfiya",
    "Barno",
    "Gulchehra",
    "Hilola",
    "Iroda",
    "Mahliyo",
    "Munisa",
    "Nargiza",
    "Ozoda",
    "Rayhon",
    "Saida",
    "Shoira",
    "Dilfuza",
    "Gulbahor",
    "Lola",
    "Mavluda",
    "Muazzam",
    "Nasiba",
    "Robiya",
    "Sabina",
    "Sitora",
    "Mohinur",
    "Maftuna",
    "Dilorom",
    "Gulshan",
    "Hulkar",
    "Mushtariy",
    "Nozima",
    "Charos",
    "Marjona",
    "Shaxzoda",
    "Zilola",
    "Komila",
    "Muxlisa",
    "Ruxsora",
    "Go'zal",
]
UZ_FAMILY = [
    "Karimov",
    "Usmonov",
    "Yusupov",
    "Rahimov",
    "Aliyev",
    "Toshmatov",
    "Ergashev",
    "Xolmatov",
    "Sobirov",
    "Qodirov",
    "Nazarov",
    "Abdullayev",
    "Mirzayev",
    "Tursunov",
    "Jo'rayev",
    "Sultonov",
    "Saidov",
    "Ismoilov",
    "Rasulov",
    "Hasanov",
    "Umarov",
    "Nurmatov",
    "Botirov",
    "Fayzullayev",
    "Hamidov",
    "Po'latov",
    "Valiyev",
    "Zokirov",
    "Eshonqulov",
    "Salimov",
    "Rashidov",
    "Normatov",
    "Qosimov",
    "Xudoyberdiyev",
    "Yo'ldoshev",
    "Rustamov",
    "Sharipov",
    "Ahmedov",
    "Mamatov",
    "Raximov",
    "To'xtayev",
    "Olimov",
    "Davletov",
    "Muminov",
    "Haydarov",
    "Jalilov",
    "Kamolov",
    "Latipov",
    "Mahmudov",
    "Nematov",
    "Orifov",
    "Qurbonov",
    "Sodiqov",
    "Tojiyev",
    "Xasanov",
    "Yunusov",
    "Zaripov",
    "Abdurahmonov",
    "Bozorov",
    "Egamberdiyev",
    "Fozilov",
    "Hakimov",
    "Ibragimov",
    "Jumayev",
    "Komilov",
    "Murodov",
    "Nosirov",
    "Ochilov",
    "Pardayev",
    "Rahmonov",
    "Shukurov",
    "Turgunov",
    "Usmanov",
    "Xojayev",
    "Yoqubov",
    "Ziyayev",
    "Baxromov",
    "Karimjonov",
    "Soliyev",
]
KZ_MALE = [
    "Нурлан",
    "Ерлан",
    "Асқар",
    "Дәулет",
    "Серік",
    "Болат",
    "Марат",
    "Арман",
    "Айдос",
    "Нұрсұлтан",
    "Жәнібек",
    "Ержан",
    "Ербол",
    "Тимур",
    "Алмас",
    "Қайрат",
    "Азамат",
    "Бауыржан",
    "Дәурен",
    "Ғалым",
    "Мади",
    "Санжар",
    "Әлихан",
    "Ерасыл",
    "Нұрбек",
    "Бекзат",
    "Ақжол",
    "Абылай",
    "Олжас",
    "Ғабит",
    "Дархан",
    "Мейрам",
    "Талғат",
    "Жандос",
    "Саят",
    "Еркебұлан",
]
KZ_FEMALE = [
    "Айгерім",
    "Айжан",
    "Дана",
    "Гүлнара",
    "Динара",
    "Жанар",
    "Сәуле",
    "Әсел",
    "Мадина",
    "Аружан",
    "Ақмарал",
    "Ботагөз",
    "Гауһар",
    "Камила",
    "Лаура",
    "Меруерт",
    "Назира",
    "Раушан",
    "Сымбат",
    "Тоғжан",
    "Зарина",
    "Аяжан",
    "Балжан",
    "Гүлжан",
    "Жұлдыз",
    "Інкәр",
    "Ақерке",
    "Назерке",
    "Әйгерім",
]
KZ_FAMILY = [
    "Нұрланов",
    "Әбенов",
    "Ахметов",
    "Баймұханов",
    "Жақсыбеков",
    "Ысқақов",
    "Қасымов",
    "Кенжебаев",
    "Мұқанов",
    "Нұрпейісов",
    "Омаров",
    "Садықов",
    "Тоқаев",
    "Жұмабаев",
    "Өтегенов",
    "Беков",
    "Сүлейменов",
    "Ермеков",
    "Аманжолов",
    "Сейтқалиев",
    "Төлеуов",
    "Бекмұхамбетов",
    "Иманғалиев",
    "Ибраев",
    "Оспанов",
    "Смағұлов",
    "Тұрсынов",
    "Жанұзақов",
    "Қалиев",
    "Мұратов",
    "Дүйсенов",
    "Есенов",
    "Құрманов",
    "Байжанов",
    "Шәкенов",
    "Әлиев",
]


def _female_family(family: str) -> str:
    """Karimov -> Karimova, Ахметов -> Ахметова, Aliyev -> Aliyeva."""
    return family + ("а" if names.script_of(family) == "cyrl" else "a")


@dataclass(frozen=True)
class Written:
    """One name as stored: entered text, the other script, and its skeleton."""

    text: str
    alt: str
    key: str


@cache
def written(name: str, script: str, country: str) -> Written:
    """``name`` (from a pool, in its pool's script) as a clerk in ``script`` would enter it."""
    source = names.script_of(name) or "latn"
    if source != script:
        name = (
            names.latn_to_cyrl(name, country)
            if script == "cyrl"
            else names.cyrl_to_latn(name, country)
        )
    convert = names.cyrl_to_latn if script == "cyrl" else names.latn_to_cyrl
    return Written(name, convert(name, country), names.skeleton(name))


def _patronymic(father: str, sex: str, script: str) -> str:
    """Russian-style patronymic, the form most passports carry: Alisherovich, Нурланқызы..."""
    if script == "cyrl":
        return father + ("ович" if sex == "male" else "овна")
    return father + ("ovich" if sex == "male" else "ovna")


def national_id(country: str, birth: date, sex: str, serial: int) -> str | None:
    """A valid PINFL (UZ) or IIN (KZ); ``serial`` makes it unique for (birth, sex)."""
    code = {1800: 1, 1900: 3, 2000: 5}[birth.year // 100 * 100] + (sex == "female")
    if country == "UZ":
        body = f"{code}{birth:%d%m%y}{100 + serial % 900:03d}{serial // 900 % 1000:03d}"
        return body + str(pinfl_check_digit([int(c) for c in body], [7, 3, 1]))
    for attempt in range(3):
        body = f"{birth:%y%m%d}{code}{(serial * 3 + attempt) % 10**4:04d}"
        check = iin_check_digit(
            [int(c) for c in body], list(range(1, 12)), [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
        )
        if check is not None:
            return body + str(check)
    return None


def people(n: int, *, country: str = "UZ", seed: int = 20261123) -> Iterator[dict[str, Any]]:
    """``n`` rows for a Core insert into ``person``: every column the model requires."""
    rng = random.Random(seed)
    first = date(1930, 1, 1)
    span = (date(date.today().year - 1, 12, 31) - first).days
    serials: dict[tuple[date, str], int] = {}
    now = datetime.now(UTC)
    for _ in range(n):
        sex = "male" if rng.random() < 0.5 else "female"
        kazakh = rng.random() < 0.25
        if kazakh:
            given_pool = KZ_MALE if sex == "male" else KZ_FEMALE
            family, father = rng.choice(KZ_FAMILY), rng.choice(KZ_MALE)
            script = "cyrl" if rng.random() < 0.8 else "latn"
        else:
            given_pool = UZ_MALE if sex == "male" else UZ_FEMALE
            family, father = rng.choice(UZ_FAMILY), rng.choice(UZ_MALE)
            script = "latn" if rng.random() < 0.75 else "cyrl"
        if sex == "female":
            family = _female_family(family)
        fam = written(family, script, country)
        giv = written(rng.choice(given_pool), script, country)
        pat = written(
            _patronymic(written(father, script, country).text, sex, script), script, country
        )
        birth = first + timedelta(days=rng.randrange(span))
        nid = None
        if rng.random() < 0.95:
            serial = serials.get((birth, sex), 0)
            serials[(birth, sex)] = serial + 1
            nid = national_id(country, birth, sex, serial)
        yield {
            "national_id": nid,
            "family_name": fam.text,
            "given_name": giv.text,
            "patronymic": pat.text,
            "name_script": script,
            "family_name_alt": fam.alt,
            "given_name_alt": giv.alt,
            "patronymic_alt": pat.alt,
            "name_key": " ".join(k for k in (fam.key, giv.key, pat.key) if k)[:320],
            "family_key": fam.key[:100],
            "birth_date": birth,
            "sex": sex,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }


# ---- loading -----------------------------------------------------------------------------

MARKER = "bench_population"
_CHUNK = 20_000


def _sync_url(url: str) -> str:
    return url.replace("sqlite+aiosqlite", "sqlite").replace("+psycopg_async", "+psycopg")


def ready(engine: Engine, size: int) -> bool:
    with engine.connect() as conn:
        try:
            got = conn.execute(text(f"SELECT size FROM {MARKER}")).scalar()  # noqa: S608
        except Exception:
            return False
    return got == size


def _load_sqlite(
    engine: Engine, rows: Iterator[dict[str, Any]], progress: Callable[[int], None]
) -> None:
    """FTS triggers off during the load, one ``rebuild`` after: far faster than per row."""
    from salomat.domains.registry.models import Person

    with engine.begin() as conn:
        triggers = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='person'")
        ).all()
        for name, _ in triggers:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == _CHUNK:
                conn.execute(insert(Person.__table__), batch)
                conn.commit()
                progress(len(batch))
                batch = []
        if batch:
            conn.execute(insert(Person.__table__), batch)
            conn.commit()
            progress(len(batch))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO search_person(search_person) VALUES ('rebuild')"))
        for _, sql in triggers:
            conn.execute(text(sql))
        conn.execute(text("ANALYZE"))


def _load_postgresql(
    engine: Engine, rows: Iterator[dict[str, Any]], progress: Callable[[int], None]
) -> None:
    """Trigram GIN indexes dropped for the load and built once after (same definitions)."""
    from salomat.domains.registry.models import Person

    with engine.begin() as conn:
        indexes = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'person' AND indexname LIKE 'ix_trgm_%' "
                "AND schemaname = current_schema()"
            )
        ).all()
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
    with engine.connect() as conn:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == _CHUNK:
                conn.execute(insert(Person.__table__), batch)
                conn.commit()
                progress(len(batch))
                batch = []
        if batch:
            conn.execute(insert(Person.__table__), batch)
            conn.commit()
            progress(len(batch))
    with engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        for _, ddl in indexes:
            conn.execute(text(ddl))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE person"))


def generate(url: str, size: int, *, country: str, progress: Callable[[int], None]) -> float:
    """Migrate an empty database at ``url`` and load ``size`` people; returns seconds taken."""
    from salomat.core import migrate

    started = time.perf_counter()
    migrate.upgrade(url)
    engine = create_engine(_sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {MARKER}"))
        rows = people(size, country=country)
        if engine.dialect.name == "sqlite":
            _load_sqlite(engine, rows, progress)
        else:
            _load_postgresql(engine, rows, progress)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE {MARKER} (size INTEGER NOT NULL)"))
            conn.execute(text(f"INSERT INTO {MARKER} (size) VALUES (:n)"), {"n": size})  # noqa: S608
    finally:
        engine.dispose()
    return time.perf_counter() - started
