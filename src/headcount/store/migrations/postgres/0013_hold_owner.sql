-- Holds belong to the client that made them (issue 13, H2), and hold ids no longer
-- carry the global sequence number: a hold is found by its random token (the id is
-- 'h_' || token; ids of the old form h<seq>_<token> are still found, by token and seq).
--
-- owner NULL: the hold was made before holds had owners (or by a caller that named
-- none: an operator, the CLI, the library). Such a hold answers only to callers
-- that pass no owner; a client key that asks for it gets "unknown hold", exactly
-- as for a hold that does not exist.
--
-- The hold rules below are the PL/pgSQL twin of headcount.ledger.rules.decide_hold;
-- tests/store/test_hold_rules_contract.py holds the two to the same answers.
ALTER TABLE holds ADD COLUMN owner text;
-- new tokens begin with the creation time, so this index grows at its right edge
CREATE INDEX holds_token ON holds (token);

DROP FUNCTION hc_place_hold(text, bigint, text, float8, bigint, float8, jsonb, text, float8, text, text, text);
DROP FUNCTION hc_change_hold(bigint, text, text, text, float8, text, text, text);

-- A hold in one round trip (see 0001_ledger.sql); now with its owner.
CREATE FUNCTION hc_place_hold(
    p_pool text, p_qty bigint, p_actor text, p_ttl_factor float8, p_cap bigint,
    p_score float8, p_reasons jsonb, p_token text, p_owner text, p_now float8,
    p_scope text, p_key text, p_hash text)
RETURNS TABLE (result text, body jsonb, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_pool pools%ROWTYPE;
    v_freed bigint := 0;
    v_used bigint;
    v_cap bigint;
    v_ttl float8;
    v_result text;
    v_body jsonb;
BEGIN
    -- A hold is short-lived and revocable: its commit does not wait for the WAL
    -- flush, so the pool's row lock is held for the work alone. A crash may lose a
    -- hold acknowledged in the last moments (as if it expired early); it can never
    -- oversell. Confirmations and releases keep synchronous commit.
    PERFORM set_config('synchronous_commit', 'off', true);
    IF p_key IS NOT NULL THEN
        RETURN QUERY SELECT * FROM hc_idem_lookup(p_scope, p_key, p_hash);
        IF FOUND THEN RETURN; END IF;
    END IF;
    -- The actor's usage is computed before the pool lock, under a lock of its own:
    -- only this actor's holds change it upwards, and those are serialised here.
    PERFORM pg_advisory_xact_lock(hashtextextended(p_pool || E'\x1f' || p_actor, 1));
    SELECT coalesce(sum(quantity), 0) INTO v_used FROM holds
     WHERE pool_id = p_pool AND actor_key = p_actor
       AND (status = 'confirmed' OR (status = 'held' AND expires_at > p_now));
    SELECT * INTO v_pool FROM pools WHERE id = p_pool FOR UPDATE;
    IF NOT FOUND THEN
        v_result := 'not_found';
        v_body := jsonb_build_object('pool_id', p_pool, 'reasons', jsonb_build_array('unknown_pool'));
    ELSE
        WITH e AS (
            UPDATE holds SET status = 'expired'
             WHERE pool_id = p_pool AND status = 'held' AND expires_at <= p_now
            RETURNING quantity)
        SELECT coalesce(sum(quantity), 0) INTO v_freed FROM e;
        v_cap := CASE WHEN p_cap IS NULL THEN v_pool.per_actor_limit
                      ELSE least(v_pool.per_actor_limit, p_cap) END;
        IF v_used + p_qty > v_cap THEN
            v_result := 'actor_limit';
            v_body := jsonb_build_object('pool_id', p_pool,
                'reasons', p_reasons || '["actor_limit"]'::jsonb, 'limit', v_cap, 'used', v_used);
        ELSIF v_pool.held - v_freed + v_pool.confirmed + p_qty > v_pool.capacity THEN
            v_result := 'sold_out';
            v_body := jsonb_build_object('pool_id', p_pool,
                'reasons', p_reasons || '["sold_out"]'::jsonb);
        ELSE
            v_result := 'held';
            v_ttl := greatest(1.0, v_pool.hold_ttl_s * p_ttl_factor);
            INSERT INTO holds (token, pool_id, actor_key, quantity, status, created_at, ttl_s,
                               expires_at, max_expires_at, risk_score, risk_reasons, owner)
            VALUES (p_token, p_pool, p_actor, p_qty, 'held', p_now, v_ttl, p_now + v_ttl,
                    p_now + v_ttl * 3, p_score, p_reasons, p_owner);
            v_body := jsonb_build_object(
                'hold_id', 'h_' || p_token, 'pool_id', p_pool, 'status', 'held',
                'quantity', p_qty, 'expires_at', p_now + v_ttl,
                'risk', jsonb_build_object('score', p_score, 'reasons', p_reasons));
        END IF;
        IF v_freed > 0 OR v_result = 'held' THEN
            UPDATE pools SET held = held - v_freed + CASE WHEN v_result = 'held' THEN p_qty ELSE 0 END
             WHERE id = p_pool;
        END IF;
        PERFORM hc_log(p_now, 'hold', p_actor, p_pool, p_qty, v_result, p_score,
                       CASE WHEN v_result = 'held' THEN p_reasons ELSE v_body -> 'reasons' END);
    END IF;
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency VALUES (p_scope, p_key, p_hash, v_result, v_body, p_now);
    END IF;
    RETURN QUERY SELECT v_result, v_body, false;
END $$;

-- Confirm, release or extend a hold; only its owner (or a caller naming none) finds it.
CREATE FUNCTION hc_change_hold(
    p_token text, p_old_seq bigint, p_hold_id text, p_action text, p_now float8, p_owner text,
    p_scope text, p_key text, p_hash text)
RETURNS TABLE (result text, body jsonb, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_pool_id text;
    v_seq bigint;
    h holds%ROWTYPE;
    v_status text;
    v_result text;
    v_body jsonb;
    v_base jsonb;
    v_expiry float8;
BEGIN
    IF p_key IS NOT NULL THEN
        RETURN QUERY SELECT * FROM hc_idem_lookup(p_scope, p_key, p_hash);
        IF FOUND THEN RETURN; END IF;
    END IF;
    -- another client's hold is answered exactly as a hold that does not exist
    SELECT seq, pool_id INTO v_seq, v_pool_id FROM holds
     WHERE token = p_token AND (p_old_seq IS NULL OR seq = p_old_seq)
       AND (p_owner IS NULL OR owner = p_owner);
    IF NOT FOUND THEN
        v_result := 'not_found';
        v_body := jsonb_build_object('hold_id', p_hold_id, 'reasons', jsonb_build_array('unknown_hold'));
    ELSE
        PERFORM 1 FROM pools WHERE id = v_pool_id FOR UPDATE;   -- same lock order as holds
        SELECT * INTO h FROM holds WHERE seq = v_seq;
        v_status := h.status;
        IF v_status = 'held' AND h.expires_at <= p_now THEN
            UPDATE holds SET status = 'expired' WHERE seq = v_seq;
            UPDATE pools SET held = held - h.quantity WHERE id = v_pool_id;
            v_status := 'expired';
        END IF;
        v_base := jsonb_build_object('hold_id', p_hold_id, 'pool_id', v_pool_id, 'quantity', h.quantity);
        IF p_action = 'confirm' THEN
            IF v_status = 'confirmed' THEN
                v_result := 'confirmed';
                v_body := v_base || jsonb_build_object('status', 'confirmed');
            ELSIF v_status <> 'held' THEN
                v_result := 'bad_state';
                v_body := v_base || jsonb_build_object('status', v_status,
                    'reasons', jsonb_build_array('hold_' || v_status));
            ELSE
                UPDATE holds SET status = 'confirmed' WHERE seq = v_seq;
                UPDATE pools SET held = held - h.quantity, confirmed = confirmed + h.quantity
                 WHERE id = v_pool_id;
                PERFORM hc_log(p_now, 'confirm', h.actor_key, v_pool_id, h.quantity, 'confirmed', 0, '[]');
                v_result := 'confirmed';
                v_body := v_base || jsonb_build_object('status', 'confirmed');
            END IF;
        ELSIF p_action = 'release' THEN
            IF v_status IN ('released', 'expired') THEN
                v_result := 'released';
                v_body := v_base || jsonb_build_object('status', v_status);
            ELSE
                UPDATE holds SET status = 'released' WHERE seq = v_seq;
                IF v_status = 'held' THEN
                    UPDATE pools SET held = held - h.quantity WHERE id = v_pool_id;
                ELSE
                    UPDATE pools SET confirmed = confirmed - h.quantity WHERE id = v_pool_id;
                END IF;
                PERFORM hc_log(p_now, 'release', h.actor_key, v_pool_id, h.quantity, 'released', 0, '[]');
                v_result := 'released';
                v_body := v_base || jsonb_build_object('status', 'released');
            END IF;
        ELSE -- extend
            IF v_status <> 'held' THEN
                v_result := 'bad_state';
                v_body := v_base || jsonb_build_object('status', v_status,
                    'reasons', jsonb_build_array('hold_' || v_status));
            ELSE
                v_expiry := least(p_now + h.ttl_s, h.max_expires_at);
                IF v_expiry <= h.expires_at THEN
                    v_result := 'bad_state';
                    v_body := v_base || jsonb_build_object('status', 'held', 'expires_at', h.expires_at,
                        'reasons', jsonb_build_array('extension_cap_reached'));
                ELSE
                    UPDATE holds SET expires_at = v_expiry WHERE seq = v_seq;
                    v_result := 'extended';
                    v_body := v_base || jsonb_build_object('status', 'held', 'expires_at', v_expiry);
                END IF;
            END IF;
        END IF;
    END IF;
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency VALUES (p_scope, p_key, p_hash, v_result, v_body, p_now);
    END IF;
    RETURN QUERY SELECT v_result, v_body, false;
END $$;

