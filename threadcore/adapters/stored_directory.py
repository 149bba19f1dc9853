"""The directory stored with the threads, in the same database (issue 14).

Every process that opens the database reads the same directory. Each keeps a copy in memory and
checks it against the directory's change stamp at the start of each command, read in the same
round trip as the command's claim (:meth:`threadcore.ports.Claims.claim`): a change committed by
one process is seen by every other from its next command on, and a command still costs one round
of reads. Changes go through the inbox (``add_*``, ``remove_*``, ``load_directory``), which
applies them in the same transaction as their effect on the threads (rule R11).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from threadcore.adapters.directory import Directory
from threadcore.domain.errors import InvalidInput
from threadcore.domain.model import Resource
from threadcore.ports import DirectoryRecords, Repository, UnitOfWork, require

__all__ = ["StoredDirectory"]


class StoredDirectory:
    """A :class:`~threadcore.ports.DirectoryPort` kept in ``repository``'s database.

    Give it to an :class:`~threadcore.Inbox` over the same repository (or let
    :func:`threadcore.open_inbox` do it); change it through that inbox. Its reads answer from
    the copy the inbox last refreshed; :meth:`resources` lists every resource in the order they
    were added.
    """

    def __init__(self, repository: Repository) -> None:
        if not isinstance(repository, Repository):
            raise InvalidInput(
                "Parameter [repository] must satisfy Repository", parameter="repository"
            )
        self._repo = repository
        self._copy: tuple[int, Directory] = (-1, Directory())  # (change stamp, directory)
        with repository.unit_of_work() as uow:  # ready when made; a missing table fails here
            self.refresh(uow)

    @property
    def repository(self) -> Repository:
        """The repository this directory is stored in."""
        return self._repo

    def refresh(self, uow: UnitOfWork) -> Directory:
        """Bring the copy up to the stored directory as ``uow`` sees it (one read of the change
        stamp; the resources are read again only when it changed) and return it. A unit of
        work without :class:`~threadcore.ports.DirectoryRecords` raises
        :class:`~threadcore.errors.Unsupported`."""
        records = require(uow, DirectoryRecords)
        version = records.directory_version()
        seen, directory = self._copy
        if version == seen:
            return directory
        directory = Directory(records.directory_resources())
        # (A slower thread may put an older copy back: the next refresh finds the stamp
        # changed and reads again. A command decides on the copy it was returned, never on a
        # copy another thread installs meanwhile; a restored backup's stamp is read.)
        self._copy = (version, directory)
        return directory

    def draft(self, resources: Iterable[Resource]) -> Directory:
        """A free-standing in-memory directory of ``resources``, checked as this one (one
        extension id and one owner per number): the inbox tries a change on it first."""
        return Directory(resources)

    # --- reads (DirectoryPort) ------------------------------------------------------------------
    def resource(self, extension_id: str) -> Resource | None:
        """The resource with this extension id, or ``None``."""
        return self._copy[1].resource(extension_id)

    def resource_for_number(self, phone_number: str) -> Resource | None:
        """The resource that owns ``phone_number``, or ``None``."""
        return self._copy[1].resource_for_number(phone_number)

    def resources_of_handler(self, extension_id: str) -> Sequence[Resource]:
        """Every resource ``extension_id`` handles SMS for, in the order they were added."""
        return self._copy[1].resources_of_handler(extension_id)

    def resources(self) -> Sequence[Resource]:
        """Every resource, in the order they were added (as of the last refresh)."""
        return self._copy[1].resources()

    def __repr__(self) -> str:
        return f"StoredDirectory({self._repo!r}, version={self._copy[0]})"
