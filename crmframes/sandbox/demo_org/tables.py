"""Field generators and the five tables of the demo org (users, accounts, contacts, ...).

Pure: stdlib and numpy only. Each table is drawn column by column from its own seeded
stream, then turned into row dicts.

Longer than 500 lines: the five tables of one generator share its seeded streams and field
generators.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from crmframes.sandbox.demo_org.duplicates import (
    _plant_duplicates,
)
from crmframes.sandbox.demo_org.reference import (
    _BIRTH_DAYS,
    _BOOK,
    _CITY_COUNTRY,
    _CITY_CUM,
    _CITY_CUM_BY_COUNTRY,
    _CITY_NAMES,
    _CITY_STATES,
    _CITY_STYLE,
    _COINED,
    _COMMON_NAMES,
    _COMPANY_ADJECTIVES,
    _COMPANY_NOUNS,
    _COMPANY_WORDS,
    _COUNTRIES,
    _COUNTRY_NAMES,
    _COUNTRY_TLDS,
    _CULTURES,
    _DAY_MS,
    _DEPARTMENTS,
    _DESCRIPTIONS,
    _EMAIL_FORMATS,
    _EPOCH_DAY,
    _FILL_ALPHABETS,
    _LOCAL,
    _MS_CREATED_END,
    _MS_MODIFIED_END,
    _MS_RECENT,
    _MS_RECORDS,
    _MS_START,
    _OPPORTUNITY_NAMES,
    _OWNER_WEIGHTS,
    _PEOPLE,
    _POSTAL_PATTERNS,
    _SLUGS,
    _STREET_FORMATS,
    _STREET_NAMES,
    _STREET_NUMBERS,
    _STREET_TYPES,
    _SUFFIXES,
    _TITLE_NAMES,
    _TITLES,
    _YEAR_MS,
    ACCOUNT_TYPES,
    BASE_COUNTS,
    INDUSTRIES,
    LEAD_SOURCES,
    LEAD_STATUSES,
    OPPORTUNITY_STAGES,
    OPPORTUNITY_TYPES,
    RATINGS,
    SALUTATIONS,
    _Bools,
    _Draw,
    _Ints,
    _objects,
    _Objs,
)

__all__: list[str] = []

# --- field generators --------------------------------------------------------------------------


def _nulled(values: npt.NDArray[Any] | list[Any], mask: _Bools) -> _Objs:
    """Return ``values`` as an array of Python objects, None where ``mask`` is set."""
    out = _objects(values) if isinstance(values, list) else values.astype(object)
    out[mask] = None
    return out


def _null(values: npt.NDArray[Any] | list[Any], mask: _Bools) -> list[Any]:
    """Return ``values`` as a list of Python objects, None where ``mask`` is set."""
    return _nulled(values, mask).tolist()  # type: ignore[no-any-return]


def _datetimes(ms: _Ints) -> list[datetime]:
    # Seconds as a float carry whole milliseconds exactly through fromtimestamp's rounding.
    stamp = datetime.fromtimestamp
    return [stamp(s, UTC) for s in (ms / 1000).tolist()]


def _dates(days: _Ints) -> list[date]:
    """Turn days since 1970-01-01 into dates, one shared object per distinct day."""
    if not len(days):
        return []
    first = int(days.min())
    calendar = [date.fromordinal(_EPOCH_DAY + d) for d in range(first, int(days.max()) + 1)]
    return [calendar[d - first] for d in days.tolist()]


def _stamps(draw: _Draw, created: _Ints) -> tuple[list[datetime], list[datetime]]:
    """Creation and modification datetimes: a third never modified, the rest soon or later."""
    n = len(created)
    touched = np.flatnonzero(~draw.flag(n, 0.3))
    since = created[touched]
    later = since + ((_MS_MODIFIED_END - since) * draw.uniform(len(touched)) ** 2).astype(np.int64)
    created_at = _datetimes(created)
    modified_at = list(created_at)  # the untouched share the creation stamp's object
    for i, stamp in zip(touched.tolist(), _datetimes(later), strict=True):
        modified_at[i] = stamp
    return created_at, modified_at


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = tuple(columns)
    return [dict(zip(keys, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _fill(draw: _Draw, patterns: Sequence[str], which: _Ints) -> list[str]:
    """Fill pattern ``which[i]`` for each row i: # a digit, % a digit 2-9, @ a letter."""
    out = np.empty(len(which), dtype=object)
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(patterns) + 1))
    for k, pattern in enumerate(patterns):
        rows = order[bounds[k] : bounds[k + 1]]
        if not len(rows):
            continue
        template = np.frombuffer(pattern.encode("ascii"), dtype=np.uint8)
        chars = np.tile(template, (len(rows), 1))
        for code, alphabet in _FILL_ALPHABETS:
            cols = np.flatnonzero(template == code)
            picks = draw.index(len(rows) * len(cols), len(alphabet))
            chars[:, cols] = alphabet[picks.reshape(len(rows), len(cols))]
        width = len(template)
        out[rows] = chars.view(f"S{width}").ravel().astype(f"U{width}").astype(object)
    filled: list[str] = out.tolist()
    return filled


def _phones(draw: _Draw, city: _Ints, *, mobile: bool = False) -> list[str]:
    """Draw a phone number per row: a landline in the city's area, or a national mobile."""
    n = len(city)
    offset, count = _BOOK.land[city].T
    which = offset + draw.index(n, count)
    if mobile:
        offset, prefixes, formats = _BOOK.mobile[_CITY_COUNTRY[city]].T
        prefix = draw.index(n, np.maximum(prefixes, 1))
        own = offset + prefix * formats + draw.index(n, np.maximum(formats, 1))
        which = np.where(formats > 0, own, which)
    return _fill(draw, _BOOK.patterns, which)


def _streets(draw: _Draw, city: _Ints, *, suite: float = 0.0) -> list[str]:
    """Draw a street line per row in the style of its city ("12 rue de la Paix")."""
    n = len(city)
    style = _CITY_STYLE[city]
    number = draw.between(n, _STREET_NUMBERS[style, 0], _STREET_NUMBERS[style, 1] + 1).tolist()
    names = _STREET_NAMES.pick(draw, style).tolist()
    kinds = _STREET_TYPES.pick(draw, style).tolist()
    lines = [
        _STREET_FORMATS[s].format(k, name, kind)
        for s, k, name, kind in zip(style.tolist(), number, names, kinds, strict=True)
    ]
    # a few offices on a floor of a US-style building: a second address line
    office = np.where(draw.flag(n, suite) & (style == 0), draw.between(n, 1, 40) * 50, 0)
    return [
        f"{line}\nSuite {f}" if f else line for line, f in zip(lines, office.tolist(), strict=True)
    ]


def _people(draw: _Draw, country: _Ints) -> tuple[_Objs, _Objs, _Bools]:
    """Draw first name, last name and whether female, from the cultures of each row's country."""
    n = len(country)
    culture = np.zeros(n, dtype=np.int64)
    for ci, c in enumerate(_COUNTRIES):
        rows = np.flatnonzero(country == ci)
        culture[rows] = draw.pick(len(rows), c.culture_cum)
    female = draw.flag(n, 0.5)
    first, last = np.empty(n, dtype=object), np.empty(n, dtype=object)
    for k, p in enumerate(_PEOPLE):
        rows = np.flatnonzero(culture == k)
        fem = female[rows]
        first[rows[~fem]] = p.male[draw.pick(int((~fem).sum()), p.cum[0])]
        first[rows[fem]] = p.female[draw.pick(int(fem.sum()), p.cum[1])]
        li = draw.pick(len(rows), p.cum[2])
        last[rows] = np.where(fem, p.last_female[li], p.last[li])
    return first, last, female


def _emails(
    draw: _Draw,
    first: _Objs,
    last: _Objs,
    domain: _Objs,
    work: _Bools,
    year: list[str],
    taken: set[str],
) -> list[str]:
    """Derive an email per row from the names, unique against ``taken`` (which is updated)."""
    n = len(first)
    pattern = (draw.weighted(n, (40, 14, 8, 8, 6, 5, 10, 9)) + 8 * ~work).tolist()
    number = [str(k) for k in draw.between(n, 1, 100).tolist()]
    local = _LOCAL
    rows = zip(first.tolist(), last.tolist(), domain.tolist(), pattern, number, year, strict=True)
    out = [_EMAIL_FORMATS[p].format(local[f], local[s], k, y or k, d) for f, s, d, p, k, y in rows]
    suffix: dict[str, int] = {}
    for i, email in enumerate(out):
        if email in taken:  # someone else has it already: number this one, as mail hosts do
            name, _, host = email.partition("@")
            k = suffix.get(email, 2)
            while f"{name}{k}@{host}" in taken:
                k += 1
            suffix[email] = k + 1
            out[i] = email = f"{name}{k}@{host}"
        taken.add(email)
    return out


def _free_domains(draw: _Draw, country: _Ints) -> _Objs:
    out = np.empty(len(country), dtype=object)
    for ci, c in enumerate(_COUNTRIES):
        rows = np.flatnonzero(country == ci)
        out[rows] = c.free_domains[draw.pick(len(rows), c.free_cum)]
    return out


def _companies(draw: _Draw, city: _Ints) -> tuple[_Objs, _Objs]:
    """Draw company names (with the country's legal forms) and their web domains."""
    n = len(city)
    country = _CITY_COUNTRY[city]
    last, partner = _people(draw, country)[1], _people(draw, country)[1]
    word, adjective, noun, head, tail = (draw.choose(n, words) for words in _COMPANY_PARTS)
    longer = draw.uniform(n)
    blank, amp = np.full(n, "", dtype=object), np.full(n, "&", dtype=object)
    # Müller (Logistics), Dubois & Laurent, Blue Harbor (Labs), Nexora (Labs), Denver Freight
    kind = draw.weighted(n, (30, 8, 30, 32))
    shape = [kind == k for k in range(4)]
    shape[3] &= draw.flag(n, 0.69)  # the rest of these, 10% in all, are named after their city
    tokens = (
        np.select(shape, [last, last, adjective, head + tail], _CITY_NAMES[city]),
        np.select(
            shape,
            [np.where(longer < 0.4, word, blank), amp, noun, np.where(longer < 0.3, word, blank)],
            word,
        ),
        np.select(shape, [blank, partner, np.where(longer < 0.7, word, blank), blank], blank),
    )
    name, slug = tokens[0], _objects(_SLUGS[t] for t in tokens[0].tolist())
    for token in tokens[1:]:
        name = np.where(token == "", name, name + " " + token)
        slug = slug + _objects(_SLUGS[t] for t in token.tolist())
    suffix = _SUFFIXES.pick(draw, country)
    name = np.where(draw.flag(n, 0.6), name + " " + suffix, name)
    return name, slug + "." + _COUNTRY_TLDS[country]


_COMPANY_PARTS: Final = (_COMPANY_WORDS, _COMPANY_ADJECTIVES, _COMPANY_NOUNS, *_COINED)


def _size(draw: _Draw, n: int) -> tuple[_Ints, _Ints]:
    """Employees (log-uniform within a decade, mostly small) and revenue to 2 figures."""
    low = 10 ** draw.weighted(n, (10, 35, 33, 15, 5, 2))
    employees = draw.between(n, low, 10 * low)
    revenue = employees * draw.between(n, 40, 400) * 1000  # 40k to 400k per head
    digits = np.searchsorted(10 ** np.arange(19, dtype=np.int64), revenue, side="right")
    unit = 10 ** np.maximum(digits - 2, 0)
    return employees, (revenue + unit // 2) // unit * unit


# --- tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Accounts:
    """What the other tables need to know about the accounts."""

    created: _Ints
    city: _Ints
    owner: _Ints
    name: _Objs
    domain: _Objs
    phone: _Objs
    street: _Objs
    postal: _Objs
    customer: _Bools


def _users(draw: _Draw) -> list[dict[str, Any]]:
    n = BASE_COUNTS["users"]
    en = _PEOPLE[_CULTURES.index("en")]
    female = draw.flag(n, 0.5).tolist()
    # distinct popular names: the first n of random permutations of the top 40 and 60
    firsts = np.argsort(draw.uniform(40), kind="stable").tolist()
    lasts = np.argsort(draw.uniform(60), kind="stable").tolist()
    first = [str((en.female if f else en.male)[firsts[i]]) for i, f in enumerate(female)]
    last = [str(en.last[lasts[i]]) for i in range(n)]
    names = list(zip(first, last, strict=True))
    email = [f"{_LOCAL[f]}.{_LOCAL[s]}@crmframes-demo.example" for f, s in names]
    return _rows(
        {
            "first_name": first,
            "last_name": last,
            "email": email,
            "username": [f"{e}.sandbox" for e in email],
            "alias": [(_LOCAL[f][:1] + _LOCAL[s])[:8] for f, s in names],
            "is_active": [i < n - 1 for i in range(n)],  # the last one has left; their records stay
            "created_at": _datetimes(np.sort(draw.between(n, _MS_START, _MS_RECORDS))),
        }
    )


def _accounts(draw: _Draw, n: int) -> tuple[list[dict[str, Any]], _Accounts]:
    created = np.sort(draw.between(n, _MS_RECORDS, _MS_CREATED_END + 1))
    city = draw.pick(n, _CITY_CUM)
    country = _CITY_COUNTRY[city]
    owner = draw.weighted(n, _OWNER_WEIGHTS)
    name, domain = _companies(draw, city)
    kind = draw.weighted(n, (30, 30, 10, 8, 4, 6, 4))
    employees, revenue = _size(draw, n)
    phone = _objects(_phones(draw, city))
    street = _objects(_streets(draw, city, suite=0.05))
    postal = _objects(_fill(draw, _POSTAL_PATTERNS, city))
    www = np.where(draw.flag(n, 0.7), "https://www." + domain, "http://" + domain)
    website = np.where(draw.flag(n, 0.6), "www." + domain, www)
    years = (1970 + created // _YEAR_MS).tolist()  # the calendar year, give or take a day
    template = draw.index(n, len(_DESCRIPTIONS)).tolist()
    about = zip(template, _CITY_NAMES[city].tolist(), years, strict=True)
    description = [_DESCRIPTIONS[t].format(c, y) for t, c, y in about]
    # about 5% belong to a group; a parent is always older, so hierarchies have no cycles
    parent = _null(draw.index(n, np.maximum(np.arange(n), 1)), ~draw.flag(n, 0.05))
    created_at, modified_at = _stamps(draw, created)
    rows = _rows(
        {
            "name": name.tolist(),
            "account_number": [f"CD{1_000_000 + i * 4_194_301 % 9_000_000}" for i in range(n)],
            "type": _null(_objects(ACCOUNT_TYPES)[kind], draw.flag(n, 0.06)),
            "industry": _null(draw.choose(n, INDUSTRIES), draw.flag(n, 0.05)),
            "annual_revenue": _null(revenue.astype(np.float64), draw.flag(n, 0.15)),
            "employees": _null(employees, draw.flag(n, 0.12)),
            "phone": _null(phone, draw.flag(n, 0.05)),
            "website": _null(website, draw.flag(n, 0.08)),
            "street": _null(street, draw.flag(n, 0.05)),
            "city": _CITY_NAMES[city].tolist(),
            "state": _CITY_STATES[city].tolist(),
            "postal_code": postal.tolist(),
            "country": _COUNTRY_NAMES[country].tolist(),
            "description": _null(description, draw.flag(n, 0.55)),
            "owner": owner.tolist(),
            "parent": [None, *parent[1:]],
            "created_at": created_at,
            "modified_at": modified_at,
        }
    )
    customer = (kind == 1) | (kind == 2)
    return rows, _Accounts(created, city, owner, name, domain, phone, street, postal, customer)


def _contacts(
    draw: _Draw, rnd: random.Random, n: int, acc: _Accounts, taken: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n_dup = round(n * 0.06) if n >= 20 else 0
    b = n - n_dup
    # account and creation time first: the base rows are generated in creation order
    has_account = ~draw.flag(b, 0.08)
    account = draw.index(b, len(acc.created))
    since = np.where(has_account, acc.created[account], _MS_RECORDS)
    created = draw.between(b, since, _MS_CREATED_END + 1)
    order = np.argsort(created, kind="stable")
    created, account, has_account = created[order], account[order], has_account[order]
    steps = np.arange(b)  # make the times strictly increasing (for placing the duplicates)
    created = np.maximum.accumulate(created - steps) + steps
    created = np.minimum(created, _MS_CREATED_END - steps[::-1])
    # three in four live at their account's address; most others in the same country
    same_place = has_account & draw.flag(b, 0.75)
    city = draw.pick(b, _CITY_CUM)
    nearby = has_account & ~same_place & draw.flag(b, 0.8)
    for ci, cum in enumerate(_CITY_CUM_BY_COUNTRY):
        rows = np.flatnonzero(nearby & (_CITY_COUNTRY[acc.city[account]] == ci))
        city[rows] = draw.pick(len(rows), cum)
    city = np.where(same_place, acc.city[account], city)
    country = _CITY_COUNTRY[city]
    first, last, female = _people(draw, country)
    for k, row in enumerate(np.argsort(draw.uniform(b), kind="stable")[: round(b * 0.01)]):
        first[row], last[row], female[row] = _COMMON_NAMES[k % len(_COMMON_NAMES)]
    birth = _null(_dates(draw.between(b, *_BIRTH_DAYS)), draw.flag(b, 0.15))
    work = has_account & draw.flag(b, 0.65)
    domain = np.where(work, acc.domain[account], _free_domains(draw, country))
    years = [str(d.year) if d else "" for d in birth]
    email = _emails(draw, first, last, domain, work, years, taken)
    street, postal = acc.street[account], acc.postal[account]
    own = np.flatnonzero(~same_place)
    street[own] = _streets(draw, city[own])
    postal[own] = _fill(draw, _POSTAL_PATTERNS, city[own])
    phone = acc.phone[account]  # a fifth of those with an account give the switchboard
    own = np.flatnonzero(~(has_account & draw.flag(b, 0.2)))
    phone[own] = _phones(draw, city[own])
    mobile = _phones(draw, city, mobile=True)
    salutations = (*SALUTATIONS, None)
    salutation = np.where(
        female,
        draw.choose(b, salutations, (0, 45, 20, 6, 2, 27)),
        draw.choose(b, salutations, (65, 0, 0, 6, 2, 27)),
    )
    title = draw.weighted(b, [1.0 / (i + 4) for i in range(len(_TITLES))])
    no_title = draw.flag(b, 0.10)
    base: dict[str, list[Any]] = {
        "salutation": salutation.tolist(),
        "first_name": first.tolist(),
        "last_name": last.tolist(),
        "email": _null(email, draw.flag(b, 0.04)),
        "phone": _null(phone, draw.flag(b, 0.10)),
        "mobile_phone": _null(mobile, draw.flag(b, 0.40)),
        "birthdate": birth,
        "title": _null(_TITLE_NAMES[title], no_title),
        "department": _null(_DEPARTMENTS[title], no_title | draw.flag(b, 0.15)),
        "street": _null(street, draw.flag(b, 0.05)),
        "city": _CITY_NAMES[city].tolist(),
        "state": _CITY_STATES[city].tolist(),
        "postal_code": postal.tolist(),
        "country": _COUNTRY_NAMES[country].tolist(),
        "lead_source": _null(draw.choose(b, LEAD_SOURCES, (35, 15, 20, 12, 8)), draw.flag(b, 0.1)),
        "email_opt_out": draw.flag(b, 0.12).tolist(),
        "do_not_call": draw.flag(b, 0.07).tolist(),
        "account": _null(account, ~has_account),
        "owner": np.where(
            has_account & draw.flag(b, 0.8), acc.owner[account], draw.weighted(b, _OWNER_WEIGHTS)
        ).tolist(),
    }
    dups, dup_created, clusters = _plant_duplicates(rnd, base, created.tolist(), n_dup)
    # the rows are built in base-then-duplicates order, then put in creation order
    times = np.concatenate([created, np.asarray(dup_created, dtype=np.int64)])
    final = np.argsort(times, kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[final] = np.arange(n)
    where = position.tolist()
    external_id = [f"CT-{i + 1:07d}" for i in where]
    for key, values in base.items():
        values += dups[key]
    columns = {"external_id": external_id, **base}
    columns["created_at"], columns["modified_at"] = _stamps(draw, times)
    records = _rows(columns)
    members = sorted(
        sorted((where[row], external_id[row], kind) for row, kind in c) for c in clusters
    )
    duplicates = [
        {"contact": i, "external_id": ext, "cluster": k, "variation": kind}
        for k, cluster in enumerate(members)
        for i, ext, kind in cluster
    ]
    return [records[i] for i in final.tolist()], duplicates


def _leads(draw: _Draw, n: int, acc: _Accounts, taken: set[str]) -> list[dict[str, Any]]:
    created = np.sort(draw.between(n, _MS_RECORDS, _MS_CREATED_END + 1))
    city = draw.pick(n, _CITY_CUM)
    country = _CITY_COUNTRY[city]
    first, last, _ = _people(draw, country)
    company, domain = _companies(draw, city)
    known = draw.flag(n, 0.15)  # a lead from a company that is already an account
    account = draw.index(n, len(acc.created))
    company = np.where(known, acc.name[account], company)
    work = draw.flag(n, 0.7)
    domain = np.where(
        work, np.where(known, acc.domain[account], domain), _free_domains(draw, country)
    )
    email = _emails(draw, first, last, domain, work, [""] * n, taken)
    phone = _objects(_phones(draw, city))
    mobile = np.flatnonzero(draw.flag(n, 0.25))  # those who left their mobile number instead
    phone[mobile] = _phones(draw, city[mobile], mobile=True)
    employees, revenue = _size(draw, n)
    created_at, modified_at = _stamps(draw, created)
    return _rows(
        {
            "first_name": first.tolist(),
            "last_name": last.tolist(),
            "company": company.tolist(),
            "title": _null(_TITLE_NAMES[draw.index(n, len(_TITLES))], draw.flag(n, 0.10)),
            "email": _null(email, draw.flag(n, 0.08)),
            "phone": _null(phone, draw.flag(n, 0.12)),
            "status": draw.choose(n, LEAD_STATUSES, (40, 35, 0, 25)).tolist(),  # none converted yet
            "lead_source": _null(
                draw.choose(n, LEAD_SOURCES, (40, 15, 15, 20, 10)), draw.flag(n, 0.08)
            ),
            "industry": _null(draw.choose(n, INDUSTRIES), draw.flag(n, 0.20)),
            "rating": _null(draw.choose(n, RATINGS, (20, 45, 35)), draw.flag(n, 0.30)),
            "annual_revenue": _null(revenue.astype(np.float64), draw.flag(n, 0.45)),
            "employees": _null(employees, draw.flag(n, 0.40)),
            "street": _null(_streets(draw, city), draw.flag(n, 0.12)),
            "city": _CITY_NAMES[city].tolist(),
            "state": _CITY_STATES[city].tolist(),
            "postal_code": _fill(draw, _POSTAL_PATTERNS, city),
            "country": _COUNTRY_NAMES[country].tolist(),
            "is_converted": [False] * n,
            "owner": draw.weighted(n, _OWNER_WEIGHTS[:4]).tolist(),
            "created_at": created_at,
            "modified_at": modified_at,
        }
    )


def _opportunities(draw: _Draw, n: int, acc: _Accounts) -> list[dict[str, Any]]:
    n_acc = len(acc.created)
    u = draw.uniform(n)  # half go to any account, half lean to the older ones
    account = np.minimum(
        (np.where(draw.flag(n, 0.5), u, u * u) * n_acc).astype(np.int64), n_acc - 1
    )
    stages = list(OPPORTUNITY_STAGES)
    stage = draw.weighted(n, (8, 8, 7, 6, 5, 4, 4, 3, 30, 25))
    closed = stage >= stages.index("Closed Won")
    opened = np.where(closed, acc.created[account], np.maximum(acc.created[account], _MS_RECENT))
    created = draw.between(n, opened, _MS_CREATED_END + 1)  # the open deals are recent ones
    order = np.argsort(created, kind="stable")
    created, account, stage, closed = created[order], account[order], stage[order], closed[order]
    day = created // _DAY_MS
    close = day + 7 + (draw.uniform(n) ** 2 * 263).astype(np.int64)
    close = np.where(closed, np.clip(close, day, _MS_CREATED_END // _DAY_MS), close)
    low = 10 ** (draw.weighted(n, (15, 50, 30, 5)) + 3)  # from 1k, 10k, 100k or 1M
    amount = draw.between(n, low, 10 * low)
    rounded = (amount + low // 20) // (low // 10) * (low // 10)
    cents = np.where(draw.flag(n, 0.25), amount * 100 + draw.index(n, 100), rounded * 100)
    existing = np.where(acc.customer[account], draw.flag(n, 0.8), draw.flag(n, 0.15))
    kind = np.where(existing, draw.weighted(n, (50, 30, 20)), 3)
    what = draw.index(n, len(_OPPORTUNITY_NAMES)).tolist()
    seats, quarter = (draw.between(n, 1, 50) * 5).tolist(), draw.between(n, 1, 5).tolist()
    years = (1970 + close * _DAY_MS // _YEAR_MS).tolist()
    about = zip(acc.name[account].tolist(), what, seats, years, quarter, strict=True)
    owner = np.where(draw.flag(n, 0.75), acc.owner[account], draw.weighted(n, _OWNER_WEIGHTS[:4]))
    created_at, modified_at = _stamps(draw, created)
    return _rows(
        {
            "name": [f"{a} - {_OPPORTUNITY_NAMES[w].format(k, y, q)}" for a, w, k, y, q in about],
            "account": account.tolist(),
            "amount": _null(cents / 100, draw.flag(n, 0.05)),
            "stage": [stages[s] for s in stage.tolist()],
            "close_date": _dates(close),
            "probability": [OPPORTUNITY_STAGES[stages[s]] for s in stage.tolist()],
            "type": _null(_objects(OPPORTUNITY_TYPES)[kind], draw.flag(n, 0.08)),
            "lead_source": _null(
                draw.choose(n, LEAD_SOURCES, (35, 15, 25, 10, 15)), draw.flag(n, 0.15)
            ),
            "owner": owner.tolist(),
            "created_at": created_at,
            "modified_at": modified_at,
        }
    )
