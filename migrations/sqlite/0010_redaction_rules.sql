-- wirelog schema, version 10: a store remembers its redaction rules (docs/REDACTION.md, "A store's
-- rules"): every recorder writing into it applies them, so none stores in clear what another hid.
-- The rules only, never a secret. In the order they were added.
CREATE TABLE redaction_rules (
    position    INTEGER PRIMARY KEY,
    -- 'preset': `name` is the preset; 'regex': a `--redact` rule with its name, direction and pattern
    kind        TEXT    NOT NULL CHECK (kind IN ('preset', 'regex')),
    name        TEXT    NOT NULL,
    direction   TEXT    NOT NULL DEFAULT '',
    pattern     TEXT    NOT NULL DEFAULT '',
    UNIQUE (kind, name, direction, pattern)
);
