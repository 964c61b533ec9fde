-- The headcount estimate learns show-up rates from `checkin` actions (target = pool id).
-- Partial: only check-in rows pay for this index; finding a pool's check-ins is a range scan.
CREATE INDEX actions_checkin ON actions (target, actor_key) WHERE verb = 'checkin';
