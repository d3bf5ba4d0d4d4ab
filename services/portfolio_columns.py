"""The portfolio columns Relance understands, their accepted header spellings, and the
user's own mapping (`relance import --mapping FILE`)."""

from __future__ import annotations

import json
import tomllib
import unicodedata
from pathlib import Path

# field -> accepted headers (compared after normalise_header). The first spelling is the one
# documented in the README and used by examples/portfolio.csv.
FIELDS: dict[str, tuple[str, ...]] = {
    "dossier_ref": ("reference_dossier", "ref_dossier", "dossier", "num_dossier", "reference"),
    "debtor_ref": ("reference_debiteur", "ref_debiteur", "id_debiteur", "code_client", "num_client"),
    "debtor_kind": ("type_debiteur", "type", "personne"),
    "civility": ("civilite", "titre"),
    "last_name": ("nom", "nom_debiteur", "nom_famille"),
    "first_name": ("prenom",),
    "company_name": ("raison_sociale", "societe", "denomination", "entreprise"),
    "siren": ("siren",),
    "siret": ("siret",),
    "birth_date": ("date_naissance",),
    "deceased": ("decede", "deces", "date_deces"),
    "invoice_ref": ("reference_facture", "ref_facture", "facture", "num_facture", "reference_creance"),
    "nature": ("nature", "nature_creance"),
    "principal": ("montant_principal", "montant", "principal", "montant_du", "solde"),
    "costs": ("frais", "frais_accessoires", "accessoires"),
    "issued_on": ("date_facture", "date_emission"),
    "due_date": ("date_echeance", "echeance", "date_exigibilite"),
    "interest_mode": ("interets", "mode_interets", "type_interets"),
    "contractual_rate": ("taux_contractuel", "taux"),
    "demand_on": ("date_mise_en_demeure", "mise_en_demeure"),
    "judgment_on": ("date_jugement",),
    "judgment_enforceable_on": ("date_jugement_executoire", "date_caractere_executoire"),
    "last_payment_on": ("date_dernier_paiement", "date_reconnaissance"),
    "placed_on": ("date_placement", "date_confiee", "date_transmission"),
    "mobile": ("mobile", "portable", "tel_mobile", "telephone_mobile"),
    "phone": ("telephone", "tel", "telephone_fixe", "tel_fixe"),
    "phone2": ("telephone2", "tel2", "autre_telephone"),
    "email": ("email", "courriel", "mail", "e_mail"),
    "address1": ("adresse1", "adresse", "adresse_ligne1", "rue"),
    "address2": ("adresse2", "adresse_ligne2", "complement_adresse"),
    "address3": ("adresse3", "adresse_ligne3", "lieu_dit"),
    "postcode": ("code_postal", "cp"),
    "city": ("ville", "localite", "commune"),
    "country": ("pays",),
}

REQUIRED = ("dossier_ref", "principal", "due_date")


class MappingError(ValueError):
    pass


def normalise_header(name: str) -> str:
    """`Référence dossier ` -> `reference_dossier`."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    out = "".join(ch if ch.isalnum() else "_" for ch in text.strip().lower())
    return "_".join(part for part in out.split("_") if part)


def read_mapping_file(path: Path) -> dict[str, str]:
    """A mapping file (TOML, or JSON by its suffix) of field name -> the file's own header; the
    caller checks the field names against its own fields."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MappingError(f"fichier de correspondance illisible ({path.name}): {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise MappingError("le fichier de correspondance doit associer chaque champ à un nom de colonne")
    return data


def load_mapping(path: Path) -> dict[str, str]:
    """A mapping file maps Relance's field names to the file's own headers:
    `dossier_ref = "N° de contrat"` (TOML) or `{"dossier_ref": "N° de contrat"}` (JSON)."""
    data = read_mapping_file(path)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise MappingError(f"champs inconnus dans la correspondance: {', '.join(unknown)}")
    return data


class MappedColumnMissing(LookupError):
    def __init__(self, field: str, header_name: str) -> None:
        super().__init__(f"colonne « {header_name} » (champ {field}) absente de l'en-tête")


def match_columns(header: list[str], mapping: dict[str, str] | None,
                  fields: dict[str, tuple[str, ...] | list[str]]) -> dict[str, int]:
    """Field name -> column index: the mapping's headers first, then each field's aliases (the
    first free column that matches), headers compared normalised. Raises MappedColumnMissing."""
    normalised = [normalise_header(h) for h in header]
    columns: dict[str, int] = {}
    for field, header_name in (mapping or {}).items():
        key = normalise_header(header_name)
        if key not in normalised:
            raise MappedColumnMissing(field, header_name)
        columns[field] = normalised.index(key)
    taken = set(columns.values())
    for field, aliases in fields.items():
        if field in columns:
            continue
        for alias in aliases:
            if alias in normalised and normalised.index(alias) not in taken:
                columns[field] = normalised.index(alias)
                taken.add(columns[field])
                break
    return columns


def resolve_header(header: list[str], mapping: dict[str, str] | None = None) -> dict[str, int]:
    """Field name -> column index; raises when a required field has no column."""
    from services.portfolio_file import ImportFileError

    try:
        columns = match_columns(header, mapping, FIELDS)
    except MappedColumnMissing as exc:
        raise ImportFileError(str(exc)) from exc
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        names = ", ".join(FIELDS[f][0] for f in missing)
        raise ImportFileError(f"colonnes obligatoires absentes: {names}")
    if "last_name" not in columns and "company_name" not in columns:
        raise ImportFileError("il faut une colonne nom ou raison_sociale")
    return columns
