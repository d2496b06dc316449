"""The built-in nickname table: short forms of given names and the formal name they stand for.

Pure: data and one lookup builder. The ``first_name`` normaliser maps a nickname to its
formal name (``Bill`` and ``William`` both become ``william``), so a person entered once as
Bill and once as William matches exactly. A short form that stands for several formal names
(``Chris``: Christopher, Christine; ``Alex``; ``Ted``: Edward, Theodore) is left as it is:
mapping it to one of them would invent a match with the other. Fuzzy scoring rates a short
form as equal to each of its formal names, ambiguous or not. Spelling variants of one name
(Katherine, Catherine, Kathryn) are listed as its short forms, so they meet too.

The table lists common English short forms and a few well-known ones of other languages
(``Pepe`` for José, ``Kasia`` for Katarzyna). Pass your own with a callable normaliser when
your data needs more.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["NICKNAMES", "formal_names", "nickname_map"]

# formal name: the short forms people also go by (lower case, no accents; see nickname_map)
_TABLE: Final = """
abigail: abby abbie
abraham: abe
albert: al bert bertie
alexander: alex alec sasha
alexandra: alex lexi sasha
alfred: alf alfie fred
allison: ally allie
andrew: andy
angela: angie
anthony: tony ant
arthur: art artie
barbara: barb babs
benjamin: ben benny benji
bernard: bernie
beverly: bev
bradley: brad
caroline: carrie caro
charles: charlie chuck chas chaz
charlotte: lottie charlie
christina: tina chris
christine: chris chrissy tina
christopher: chris topher kit
clifford: cliff
cynthia: cindy
daniel: dan danny
danielle: dani
david: dave davey
deborah: debbie deb debby
dennis: denny
donald: don donnie
dorothy: dot dottie dolly
douglas: doug
edward: ed eddie ted ned
eleanor: ellie nell
elizabeth: liz beth betty eliza lizzie libby betsy bess
emily: em emmy
eugene: gene
frances: fran frankie
francis: frank fran
frederick: fred freddie
gabriel: gabe
gabrielle: gabby
gerald: gerry jerry
gregory: greg
harold: harry hal
henry: hank harry
isabella: izzy
jacob: jake
jacqueline: jackie
james: jim jimmy jamie
janet: jan
jeffrey: jeff
jennifer: jen jenny jenn
jessica: jess jessie
john: jack johnny jon
jonathan: jon jonny
joseph: joe joey
joshua: josh
judith: judy
katherine: catherine kathryn kate kathy katie kat kit cathy
kathleen: kathy kath
kenneth: ken kenny
kimberly: kim
lawrence: larry
leonard: len lenny
louise: lou
josephine: jo josie
joanne: jo
michelle: shelly
madeline: maddie
margaret: peggy maggie meg marge madge
matthew: matt
melissa: mel missy
michael: mike mick mikey
mitchell: mitch
nathan: nate
nathaniel: nate nat
nicholas: nick nicky
nicole: nikki
pamela: pam
patricia: pat patty patsy trish
patrick: pat paddy
peter: pete
philip: phillip phil
rebecca: becky becca
richard: rick dick rich richie ricky
robert: bob rob bobby robbie bert
ronald: ron ronnie
raymond: ray
samantha: sam sammy
samuel: sam sammy
stephanie: steph
stephen: steven steve stevie
susan: sue susie
theodore: ted teddy theo
thomas: tom tommy
timothy: tim timmy
victoria: vicky vicki
vincent: vince vinny
walter: walt wally
william: bill will billy willy
zachary: zach zack
aleksander: olek
dmitri: dima
francisco: paco pancho
giuseppe: beppe peppe
guillermo: memo
johannes: hannes
jose: pepe
katarzyna: kasia
malgorzata: gosia
manuel: manolo
"""

NICKNAMES: Final = MappingProxyType(
    {
        formal.strip(): tuple(short.split())
        for formal, _, short in (line.partition(":") for line in _TABLE.strip().splitlines())
    }
)


@functools.cache
def formal_names() -> Mapping[str, frozenset[str]]:
    """Return short form -> the formal names it may stand for, folded (no accents, lower case).

    Examples:
        >>> sorted(formal_names()["chris"])
        ['christina', 'christine', 'christopher']
    """
    formal_of: dict[str, set[str]] = {}
    for formal, shorts in NICKNAMES.items():
        for short in shorts:
            formal_of.setdefault(_fold(short), set()).add(_fold(formal))
    return MappingProxyType({short: frozenset(f) for short, f in formal_of.items()})


def nickname_map() -> dict[str, str]:
    """Return short form -> formal name for every short form with exactly one formal name.

    Keys and values are folded like the ``name`` normaliser folds them, so the map applies
    to normalised values.

    Examples:
        >>> names = nickname_map()
        >>> names["bill"], names["pepe"], "chris" in names
        ('william', 'jose', False)
    """
    return {short: next(iter(f)) for short, f in formal_names().items() if len(f) == 1}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
