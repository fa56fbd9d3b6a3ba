from __future__ import annotations

import unicodedata
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    false,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from corrections.core import crypto
from corrections.core.db import db
from corrections.core.ids import BigId
from corrections.core.types import UTCDateTime
from corrections.org.models import Unit

# Statuses in which a person is still under this office's supervision; one open record per ID.
OPEN_STATUSES = ("pending_intake", "active", "lost_contact", "absconded")
# Statuses in which obligations run and months are assessed (intake reported, term not over).
SUPERVISED_STATUSES = ("active", "lost_contact", "absconded")

# Blind-index labels (HMAC inputs), one per kind of lookup.
ID_NUMBER_INDEX = "persons.id_number"
ID_TAIL_INDEX = "persons.id_tail"
PHONE_INDEX = "persons.phone"
ID_TAIL_LENGTH = 4


def normal_id_number(value: str) -> str:
    """The one spelling of an ID number its blind index is taken of: NFKC (full-width digits
    and ``Ｘ`` as ASCII), trimmed, upper case."""
    return unicodedata.normalize("NFKC", value).strip().upper()


def normal_phone(value: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", value) if ch not in " -")


def id_number_index(value: str, keyring=None) -> str:
    """Blind index of an ID number (exact lookups and the one-open-record rule)."""
    return crypto.blind_index(normal_id_number(value), ID_NUMBER_INDEX, keyring)


def id_tail_index(value: str, keyring=None) -> str:
    """Blind index of an ID number's last four characters ("ID number ends with")."""
    return crypto.blind_index(normal_id_number(value)[-ID_TAIL_LENGTH:], ID_TAIL_INDEX, keyring)


def phone_index(value: str | None, keyring=None) -> str | None:
    return None if not value else crypto.blind_index(normal_phone(value), PHONE_INDEX, keyring)


def identity_indexes(id_number: str, phone: str | None, keyring=None) -> dict[str, str | None]:
    """The blind-index columns of a person row with these values, for Core UPDATEs that set
    them (Core INSERTs get them from the columns' defaults, ORM writes from the validator)."""
    return {
        "id_number_bidx": id_number_index(id_number, keyring),
        "id_tail_bidx": id_tail_index(id_number, keyring),
        "phone_bidx": phone_index(phone, keyring),
    }


def _index_of(column: str, index):
    """Column default for Core inserts that give the plaintext but not its index."""

    def default(context):
        value = context.get_current_parameters().get(column)
        return None if value is None else index(value)

    return default


class Person(db.Model):
    """A person under community correction (社区矫正对象)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    # Names stay in plain text (listed and searched by substring); the identity fields below
    # are encrypted at rest (AES-256-GCM, key outside the database) and looked up through
    # keyed blind indexes, kept in step by :meth:`_index_identity` and, for Core inserts,
    # by the columns' defaults.
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(8))
    id_number: Mapped[str] = mapped_column(crypto.EncryptedString("persons.id_number"))
    id_number_bidx: Mapped[str] = mapped_column(
        String(80),
        default=_index_of("id_number", id_number_index),
        info={"blind_index_of": ("id_number", id_number_index)},
    )
    id_tail_bidx: Mapped[str] = mapped_column(
        String(80),
        index=True,
        default=_index_of("id_number", id_tail_index),
        info={"blind_index_of": ("id_number", id_tail_index)},
    )
    date_of_birth: Mapped[date] = mapped_column(Date)
    juvenile: Mapped[bool] = mapped_column(Boolean, default=False)

    category: Mapped[str] = mapped_column(String(32), index=True)
    crime_type: Mapped[str] = mapped_column(String(40))
    offence_date: Mapped[date | None] = mapped_column(Date)
    judgment_date: Mapped[date] = mapped_column(Date)
    judgment_effective_date: Mapped[date] = mapped_column(Date)
    term_start: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date)
    intake_deadline: Mapped[date] = mapped_column(Date)
    has_guarantor: Mapped[bool] = mapped_column(Boolean, default=False)

    office_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # Denormalised from the office so district-wide, set-based queries need no join.
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)

    phone: Mapped[str | None] = mapped_column(crypto.EncryptedString("persons.phone"))
    phone_bidx: Mapped[str | None] = mapped_column(
        String(80),
        index=True,
        default=_index_of("phone", phone_index),
        info={"blind_index_of": ("phone", phone_index)},
    )
    address: Mapped[str | None] = mapped_column(crypto.EncryptedString("persons.address"))
    employment: Mapped[str | None] = mapped_column(String(20))
    housing: Mapped[str | None] = mapped_column(String(20))
    family_contact_name: Mapped[str | None] = mapped_column(
        crypto.EncryptedString("persons.family_contact_name")
    )
    family_contact_phone: Mapped[str | None] = mapped_column(
        crypto.EncryptedString("persons.family_contact_phone")
    )

    status: Mapped[str] = mapped_column(String(20), index=True)
    # Pre-sentence / intake risk assessment (调查评估): low, medium, high.
    intake_risk: Mapped[str | None] = mapped_column(String(8))
    # Current grade, kept equal to the latest effective grade decision (derivable from them).
    grade: Mapped[str | None] = mapped_column(String(20), index=True)
    grade_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The record is sealed (犯罪记录封存, persons/sealing.py): kept equal to the existence of its
    # PersonSeal row, so that every view decides by a column it already loaded.
    sealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Loaded on access: units are few and stay in the identity map, so hot paths that do not
    # show the office (recording an event) do not pay for the join.
    office: Mapped[Unit] = relationship(foreign_keys=[office_id], lazy="select")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # One open record per ID number, by its blind index (the same under one index key;
        # during an index rotation the duplicate check looks under every key).
        Index(
            "uq_persons_open_id_number",
            "id_number_bidx",
            unique=True,
            postgresql_where=text(
                "status IN ('pending_intake', 'active', 'lost_contact', 'absconded')"
            ),
            sqlite_where=text(
                "status IN ('pending_intake', 'active', 'lost_contact', 'absconded')"
            ),
        ),
        Index("ix_persons_id_number", "id_number_bidx"),
        # A name search's index on PostgreSQL (migration 0034: the name's bigrams; SQLite scans).
        Index(
            "ix_persons_name_bigrams",
            text("name_bigrams(name)"),
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ).ddl_if(dialect="postgresql"),
    )

    @validates("id_number", "phone")
    def _index_identity(self, key: str, value: str | None) -> str | None:
        # Every ORM write of these fields keeps its blind index in step: no writer can forget.
        if key == "id_number":
            self.id_number_bidx = None if value is None else id_number_index(value)
            self.id_tail_bidx = None if value is None else id_tail_index(value)
        else:
            self.phone_bidx = phone_index(value)
        return value


class PersonStatusChange(db.Model):
    """Why and by whom a person's status changed; status changes only through the service."""

    __tablename__ = "person_status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_username: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PersonSeal(db.Model):
    """A juvenile's sealed record (未成年人犯罪记录封存): when, by whom, on what ground, under
    which rules and on which facts. One per person; :attr:`Person.sealed` mirrors it."""

    __tablename__ = "person_seals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    ground: Mapped[str] = mapped_column(String(20))  # discharge | backfill (rules: grounds)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sealed_by_id: Mapped[int | None] = mapped_column(BigId)
    sealed_by: Mapped[str] = mapped_column(String(64))
    rules_version: Mapped[str] = mapped_column(String(40))
    inputs: Mapped[dict] = mapped_column(JSON)


class UnsealRequest(db.Model):
    """A request to read a sealed record (查询申请), with its reason and legal basis; once
    approved by another city-level user, a grant for the requester alone until ``expires_at``."""

    __tablename__ = "unseal_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    legal_basis: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending|approved|refused
    decided_by_id: Mapped[int | None] = mapped_column(BigId)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rules_version: Mapped[str] = mapped_column(String(40))

    # Two deciders at once: the second's write fails (409), never two decisions.
    __mapper_args__ = {"version_id_col": version}

    @hybrid_method
    def grants_at(self, now: datetime) -> bool:
        """An approved request not yet expired: its requester may read the record."""
        return self.status == "approved" and self.expires_at is not None and now < self.expires_at

    @grants_at.expression
    def grants_at(cls, now: datetime):
        return and_(cls.status == "approved", cls.expires_at > now)


class CaseloadImport(db.Model):
    """One stored caseload import (名单导入, ``corrections persons import``): which file (its
    sha256, never its name or content), who, when and what came of it."""

    __tablename__ = "caseload_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_format: Mapped[str] = mapped_column(String(8))  # csv | xlsx
    rows: Mapped[int] = mapped_column(Integer)  # data rows in the file
    created: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)  # recognised as imported before
    skipped: Mapped[int] = mapped_column(Integer)  # bad rows left out (--skip-invalid)
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_username: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseloadImportRow(db.Model):
    """A file row that created a person: a re-run of the same file (same sha256) finds its
    rows here and changes nothing."""

    __tablename__ = "caseload_import_rows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("caseload_imports.id"), index=True)
    file_sha256: Mapped[str] = mapped_column(String(64))
    row_number: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)

    __table_args__ = (UniqueConstraint("file_sha256", "row_number"),)
