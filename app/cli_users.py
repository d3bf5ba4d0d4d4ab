"""`relance user add`: console accounts (the password is read from a prompt or from stdin)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

user_app = typer.Typer(help="Utilisateurs de la console (agents, managers, administrateurs).",
                       no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Identifiant de connexion.")],
    role: Annotated[str, typer.Option("--role", help="agent, manager ou admin.")] = "agent",
    creditor: Annotated[list[str], typer.Option("--creditor", help="Créancier attribué (répétable).")] = [],
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Lit le mot de passe sur l'entrée standard.")] = False,
):
    """Crée un utilisateur de la console ; le mot de passe est demandé (ou lu sur stdin)."""
    from app.bootstrap import bootstrap
    from services.accounts import AccountError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    c = bootstrap()
    try:
        with c.uow() as uow:
            user_id = add_user(uow.session, name=name, role=role, password=password, creditors=creditor,
                               actor="cli", now=datetime.now(UTC))
            uow.commit()
    except AccountError as exc:
        err.print(f"[bold red]Erreur :[/] {exc}")
        raise typer.Exit(2)
    finally:
        c.engine.dispose()
    console.print(f"Utilisateur {name} créé (identifiant {user_id}, rôle {role}).")
