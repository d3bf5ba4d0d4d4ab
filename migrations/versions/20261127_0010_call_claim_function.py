"""call_task: the agents' claim as one PostgreSQL function (one round trip per "Appel suivant")

Revision ID: 0010
Revises: 0005
Create Date: 2026-11-27 06:00:00

`relance_claim_call_task` does on the server what services/call_queue.py does statement by statement
on SQLite: take back expired leases, seek the next open task in queue order (priority, then calling
window, then age) with FOR UPDATE SKIP LOCKED, cancel it instead when its dossier or number can no
longer be called, lease it and write the audit entry. Fifty agents claiming at once then cost the
web process one statement each instead of half a dozen. A later change of the queue order changes
both this function (in a new migration) and `_pick`; the queue tests run on both databases.
"""
from alembic import op


revision = '0010'
down_revision = '0005'
branch_labels = None
depends_on = None

CLAIM_FUNCTION = r"""
create or replace function relance_claim_call_task(
    p_now timestamptz, p_agent text, p_until timestamptz, p_creditors bigint[]
) returns table (task_id bigint, task_dossier_id bigint, task_kind text, task_script text,
                 cancelled integer, taken_back integer)
language plpgsql volatile as $fn$
declare
    v_priority integer;
    v_row_id bigint;
    v_id bigint;
    v_dossier bigint;
    v_kind text;
    v_script text;
    v_phone bigint;
    v_callable boolean;
    v_cancelled integer := 0;
    v_taken_back integer;
begin
    -- Leases that ran out go back to the queue with their place (due time kept).
    update call_task c set status = 'open', leased_by = null, lease_until = null, updated_at = p_now
     where c.id in (select e.id from call_task e
                     where e.status = 'claimed' and e.lease_until < p_now
                     limit 100 for update skip locked);
    get diagnostics v_taken_back = row_count;

    <<claim>>
    loop
        v_id := null;
        -- Priority levels, highest first, one index seek each (a loose index scan). The id too:
        -- a plain index scan marks dead entries of claimed rows as it passes them.
        select c.priority, c.id into v_priority, v_row_id from call_task c
         where c.status = 'open' order by c.priority desc limit 1;
        <<levels>>
        while found loop
            -- The window open now that closes soonest, else no window, else the one that passed first.
            select c.id, c.dossier_id, c.kind, c.script, c.phone_id
              into v_id, v_dossier, v_kind, v_script, v_phone
              from call_task c
             where c.status = 'open' and c.priority = v_priority and c.due_at <= p_now
               and c.window_end > p_now
               and (p_creditors is null or c.dossier_id in (
                    select d.id from dossier d where d.creditor_id = any (p_creditors)))
             order by c.window_end, c.due_at limit 1 for update skip locked;
            exit levels when found;
            select c.id, c.dossier_id, c.kind, c.script, c.phone_id
              into v_id, v_dossier, v_kind, v_script, v_phone
              from call_task c
             where c.status = 'open' and c.priority = v_priority and c.due_at <= p_now
               and c.window_end is null
               and (p_creditors is null or c.dossier_id in (
                    select d.id from dossier d where d.creditor_id = any (p_creditors)))
             order by c.due_at limit 1 for update skip locked;
            exit levels when found;
            select c.id, c.dossier_id, c.kind, c.script, c.phone_id
              into v_id, v_dossier, v_kind, v_script, v_phone
              from call_task c
             where c.status = 'open' and c.priority = v_priority and c.due_at <= p_now
               and c.window_end <= p_now
               and (p_creditors is null or c.dossier_id in (
                    select d.id from dossier d where d.creditor_id = any (p_creditors)))
             order by c.window_end, c.due_at limit 1 for update skip locked;
            exit levels when found;
            select c.priority, c.id into v_priority, v_row_id from call_task c
             where c.status = 'open' and c.priority < v_priority order by c.priority desc limit 1;
        end loop levels;

        if v_id is null then
            return query select null::bigint, null::bigint, null::text, null::text, v_cancelled, v_taken_back;
            return;
        end if;

        -- Suspended or closed since it was planned, or the number opted out of calls: cancel, go on.
        select d.status not in ('closed', 'suspended') and cp.opt_out_call_at is null into v_callable
          from dossier d left join contact_point cp on cp.id = v_phone
         where d.id = v_dossier;
        if v_callable is distinct from true then
            update call_task set status = 'cancelled', outcome = 'not_callable', leased_by = null,
                   lease_until = null, updated_at = p_now
             where id = v_id;
            v_cancelled := v_cancelled + 1;
            continue claim;
        end if;

        update call_task set status = 'claimed', leased_by = p_agent, lease_until = p_until, updated_at = p_now
         where id = v_id;
        insert into audit_log (at, actor, action, target, data)
        values (p_now, p_agent, 'call.claim', 'call_task:' || v_id, '{}');
        return query select v_id, v_dossier, v_kind, v_script,
                            v_cancelled, v_taken_back;
        return;
    end loop claim;
end
$fn$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CLAIM_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("drop function if exists relance_claim_call_task(timestamptz, text, timestamptz, bigint[])")
