// The schema lives in the NNNN_name.sql files beside this one; the EmbedMigrations plugin compiles them in.
