"""The scenario engine, pure: no Prefect, no database, no SDK; the clock is a parameter.

    language     the scenario language (Scenario, Step, Reaction...), frozen dataclasses
    catalogue    loads and validates catalogue/*.toml, one scenario per file
    snapshots    what the planner reads: dossier, contacts, history, enrolment state
    calendars    time zones and public holidays (cached)
    policy       the contact policy: decide() -> Allowed | Deferred | Blocked
    decisions    the decision values the policy and the planner return
    timeline     due dates, re-anchoring, cycles and idempotency keys
    planner      plan() over a chunk of due enrolments
    reactions    react() to an event on the dossier
    explain      explain() for `relance explain DOSSIER`, in French
"""
