-- The holds ledger, API keys and the action log. Times are Unix seconds (float8),
-- as in the SQLite store, so both return identical answers.
CREATE TABLE pools (
    id               text PRIMARY KEY,
    name             text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('event', 'stock')),
    capacity         bigint NOT NULL CHECK (capacity >= 0),
    per_actor_limit  bigint NOT NULL CHECK (per_actor_limit >= 1),
    hold_ttl_s       bigint NOT NULL CHECK (hold_ttl_s >= 1),
    light_yellow_at  float8 NOT NULL,
    light_red_at     float8 NOT NULL,
    held             bigint NOT NULL DEFAULT 0,
    confirmed        bigint NOT NULL DEFAULT 0,
    created_at       float8 NOT NULL,
    CHECK (held >= 0 AND confirmed >= 0 AND held + confirmed <= capacity)
);

CREATE TABLE holds (
    seq             bigserial PRIMARY KEY,
    token           text NOT NULL,
    pool_id         text NOT NULL REFERENCES pools (id),
    actor_key       text NOT NULL,
    quantity        bigint NOT NULL CHECK (quantity >= 1),
    status          text NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
    created_at      float8 NOT NULL,
    ttl_s           float8 NOT NULL,
    expires_at      float8 NOT NULL,
    max_expires_at  float8 NOT NULL,
    risk_score      float8 NOT NULL DEFAULT 0,
    risk_reasons    jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX holds_by_actor ON holds (pool_id, actor_key);
CREATE INDEX holds_due ON holds (pool_id, expires_at) WHERE status = 'held';

CREATE TABLE idempotency (
    scope         text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    result        text NOT NULL,
    body          jsonb NOT NULL,
    created_at    float8 NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE api_keys (
    key_id       text PRIMARY KEY,
    secret_hash  text NOT NULL,
    role         text NOT NULL,
    created_at   float8 NOT NULL,
    revoked      boolean NOT NULL DEFAULT false
);

CREATE TABLE actions (
    seq        bigserial PRIMARY KEY,
    ts         float8 NOT NULL,
    verb       text NOT NULL,
    actor_key  text NOT NULL,
    target     text NOT NULL,
    pool_id    text,
    quantity   bigint NOT NULL DEFAULT 0,
    decision   text NOT NULL,
    score      float8 NOT NULL DEFAULT 0,
    reasons    jsonb NOT NULL DEFAULT '[]',
    attrs      jsonb NOT NULL DEFAULT '{}'
);

-- Idempotency: serialise requests that share a key, then look the key up.
CREATE FUNCTION hc_idem_lookup(p_scope text, p_key text, p_hash text)
RETURNS TABLE (result text, body jsonb, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_scope || E'\x1f' || p_key, 0));
    SELECT i.request_hash, i.result, i.body INTO r
      FROM idempotency i WHERE i.scope = p_scope AND i.key = p_key;
    IF FOUND THEN
        IF r.request_hash <> p_hash THEN
            RETURN QUERY SELECT 'idempotency_mismatch'::text,
                jsonb_build_object('reasons', jsonb_build_array('idempotency_key_reused'),
                                   'idempotency_key', p_key), false;
        ELSE
            RETURN QUERY SELECT r.result, r.body, true;
        END IF;
    END IF;
END $$;

CREATE FUNCTION hc_log(p_now float8, p_verb text, p_actor text, p_pool text, p_qty bigint,
                       p_decision text, p_score float8, p_reasons jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO actions (ts, verb, actor_key, target, pool_id, quantity, decision, score, reasons)
    VALUES (p_now, p_verb, p_actor, p_pool, p_pool, p_qty, p_decision, p_score, p_reasons);
$$;

-- A hold in one round trip: lock the pool row, expire due holds, check the
-- actor's limit and the capacity, write the hold, the log and the idempotency record.
CREATE FUNCTION hc_place_hold(
    p_pool text, p_qty bigint, p_actor text, p_ttl_factor float8, p_cap bigint,
    p_score float8, p_reasons jsonb, p_token text, p_now float8,
    p_scope text, p_key text, p_hash text)
RETURNS TABLE (result text, body jsonb, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_pool pools%ROWTYPE;
    v_freed bigint := 0;
    v_used bigint;
    v_cap bigint;
    v_ttl float8;
    v_seq bigint;
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
                               expires_at, max_expires_at, risk_score, risk_reasons)
            VALUES (p_token, p_pool, p_actor, p_qty, 'held', p_now, v_ttl, p_now + v_ttl,
                    p_now + v_ttl * 3, p_score, p_reasons)
            RETURNING seq INTO v_seq;
            v_body := jsonb_build_object(
                'hold_id', 'h' || v_seq || '_' || p_token, 'pool_id', p_pool, 'status', 'held',
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

-- Confirm, release or extend a hold; the pool's counters move with it.
CREATE FUNCTION hc_change_hold(
    p_seq bigint, p_token text, p_hold_id text, p_action text, p_now float8,
    p_scope text, p_key text, p_hash text)
RETURNS TABLE (result text, body jsonb, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_pool_id text;
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
    SELECT pool_id INTO v_pool_id FROM holds WHERE seq = p_seq AND token = p_token;
    IF NOT FOUND THEN
        v_result := 'not_found';
        v_body := jsonb_build_object('hold_id', p_hold_id, 'reasons', jsonb_build_array('unknown_hold'));
    ELSE
        PERFORM 1 FROM pools WHERE id = v_pool_id FOR UPDATE;   -- same lock order as holds
        SELECT * INTO h FROM holds WHERE seq = p_seq;
        v_status := h.status;
        IF v_status = 'held' AND h.expires_at <= p_now THEN
            UPDATE holds SET status = 'expired' WHERE seq = p_seq;
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
                UPDATE holds SET status = 'confirmed' WHERE seq = p_seq;
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
                UPDATE holds SET status = 'released' WHERE seq = p_seq;
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
                    UPDATE holds SET expires_at = v_expiry WHERE seq = p_seq;
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

-- Expire due holds in every pool (each pool under its row lock).
CREATE FUNCTION hc_sweep(p_now float8, p_idem_before float8)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    p record;
    v_n bigint;
    v_q bigint;
    v_total bigint := 0;
BEGIN
    FOR p IN SELECT DISTINCT pool_id FROM holds WHERE status = 'held' AND expires_at <= p_now LOOP
        PERFORM 1 FROM pools WHERE id = p.pool_id FOR UPDATE;
        WITH e AS (
            UPDATE holds SET status = 'expired'
             WHERE pool_id = p.pool_id AND status = 'held' AND expires_at <= p_now
            RETURNING quantity)
        SELECT count(*), coalesce(sum(quantity), 0) INTO v_n, v_q FROM e;
        UPDATE pools SET held = held - v_q WHERE id = p.pool_id;
        v_total := v_total + v_n;
    END LOOP;
    DELETE FROM idempotency WHERE created_at < p_idem_before;
    RETURN v_total;
END $$;
