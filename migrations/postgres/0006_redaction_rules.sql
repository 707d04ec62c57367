-- wirelog schema for PostgreSQL, version 6: a store remembers its redaction rules (SQLite's
-- version 10): every recorder writing into it applies them. The rules only, never a secret.
CREATE TABLE redaction_rules (
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'preset': `name` is the preset; 'regex': a `--redact` rule with its name, direction and pattern
    kind        text NOT NULL CHECK (kind IN ('preset', 'regex')),
    name        text NOT NULL,
    direction   text NOT NULL DEFAULT '',
    pattern     text NOT NULL DEFAULT '',
    UNIQUE (kind, name, direction, pattern)
);
