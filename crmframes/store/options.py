"""Keep the campaign store's options: string names to string values, in the database.

Edge: DuckDB, through :class:`~crmframes.store.session.Session`. The automatic index keeps
its ``LASTIMPORT_<instance>_<activity>`` values here (DESIGN §4.4). The table
``_crmframes_options`` (name PK, value, updated_at) is created on the first write, so
opening a store never changes it. An import result may carry companion options beside its
watermark (the fields its window covers); :func:`companion_options` reads them so the merge
writes them in the watermark's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping

from crmframes.store import sql as q
from crmframes.store.checks import option_name, option_value
from crmframes.store.protocols import IndexCompanions
from crmframes.store.session import Session

__all__ = ["StoreOptions", "companion_options"]


def companion_options(data: object) -> dict[str, str]:
    """The options an import result asks to be written with its watermark, checked.

    ``data.index_options`` (a mapping of strings) when the result has them
    (:class:`~crmframes.store.protocols.IndexCompanions`), else nothing.

    Raises:
        TypeError: a name or value is not a string.
    """
    extra = data.index_options if isinstance(data, IndexCompanions) else {}
    if not isinstance(extra, Mapping):
        raise TypeError(f"index_options must be a mapping, not {type(extra).__name__}")
    return {option_name(name): option_value(name, value) for name, value in extra.items()}


class StoreOptions(MutableMapping[str, str]):
    """The store's options, a dict of strings persisted in ``_crmframes_options``.

    Each write is its own transaction, except inside :meth:`CampaignStore.merge`, where
    the watermark's :meth:`set_many` joins the merge's transaction.

    Examples:
        >>> from crmframes.store import CampaignStore
        >>> store = CampaignStore()
        >>> store.options["LASTIMPORT_prod_contacts"] = "2024/05/01 10:00:00"
        >>> dict(store.options)
        {'LASTIMPORT_prod_contacts': '2024/05/01 10:00:00'}
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def __getitem__(self, name: str) -> str:
        rows = self._read(option_name(name))
        if not rows:
            raise KeyError(name)
        return rows[0][1]

    def __setitem__(self, name: str, value: str) -> None:
        self.set_many({name: value})

    def __delitem__(self, name: str) -> None:
        name = option_name(name)
        self._session.require_writable("delete an option")
        with self._session.lock:
            if not self._read(name):
                raise KeyError(name)
            self._session.execute(q.delete_option(), [name])

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, _ in self._read()])

    def __len__(self) -> int:
        return len(self._read())

    def __repr__(self) -> str:
        return f"StoreOptions({dict(self._read())!r})"

    def set_many(self, values: Mapping[str, str]) -> None:
        """Set several options at once, all or none.

        Inside a running store transaction (a merge), the writes join it.

        Raises:
            TypeError: a name or value is not a string.
            StoreError: the store is read-only, or DuckDB failed.
        """
        checked = {option_name(name): option_value(name, value) for name, value in values.items()}
        self._session.require_writable("set options")
        with self._session.lock, self._session.transaction():
            self._session.execute(q.create_options_table())
            for name, value in checked.items():
                self._session.execute(q.upsert_option(), [name, value])

    def _read(self, name: str | None = None) -> list[tuple[str, str]]:
        with self._session.lock:
            if q.OPTIONS_TABLE not in self._session.tables():
                return []
            params = None if name is None else [name]
            rows = self._session.execute(
                q.select_options(one=name is not None), params, fetch="rows"
            )
            return [(str(n), str(v)) for n, v in rows]
