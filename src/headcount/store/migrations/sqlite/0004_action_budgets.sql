-- Per-person action budgets count a person's allowed actions of a verb in a window.
-- Partial: ledger rows (hold, confirm, release) never pay for this index.
CREATE INDEX actions_budget ON actions (actor_key, verb, ts)
    WHERE verb NOT IN ('hold', 'confirm', 'release') AND decision = 'allowed';
