-- A counter that every change to the register (authorities, schools, census, clusters,
-- memberships) and to the funding policies moves on, in the same transaction as the change,
-- by triggers. Caches of what is read from those tables (the service's register snapshot) are
-- kept while the counter stands still, so they are exact across processes: an import run by
-- the command line is seen by a running server at its next request. One row; a trigger
-- recreates it if a restore of an older backup left the table empty.
CREATE TABLE register_revision (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);

INSERT INTO register_revision (id, revision) VALUES (1, 1);

-- Lines starting "@sqlite " or "@postgres " are run on that backend only (the prefix is cut).
-- SQLite: row triggers, one per event and table.
@sqlite CREATE TRIGGER authorities_revision_i AFTER INSERT ON authorities BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER authorities_revision_u AFTER UPDATE ON authorities BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER authorities_revision_d AFTER DELETE ON authorities BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER schools_revision_i AFTER INSERT ON schools BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER schools_revision_u AFTER UPDATE ON schools BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER schools_revision_d AFTER DELETE ON schools BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER census_revision_i AFTER INSERT ON census BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER census_revision_u AFTER UPDATE ON census BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER census_revision_d AFTER DELETE ON census BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER clusters_revision_i AFTER INSERT ON clusters BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER clusters_revision_u AFTER UPDATE ON clusters BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER clusters_revision_d AFTER DELETE ON clusters BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER memberships_revision_i AFTER INSERT ON memberships BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER memberships_revision_u AFTER UPDATE ON memberships BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER memberships_revision_d AFTER DELETE ON memberships BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER funding_policies_revision_i AFTER INSERT ON funding_policies BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER funding_policies_revision_u AFTER UPDATE ON funding_policies BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER funding_policies_revision_d AFTER DELETE ON funding_policies BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER funding_policy_versions_revision_i AFTER INSERT ON funding_policy_versions BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER funding_policy_versions_revision_u AFTER UPDATE ON funding_policy_versions BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER funding_policy_versions_revision_d AFTER DELETE ON funding_policy_versions BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER funding_policy_in_force_revision_i AFTER INSERT ON funding_policy_in_force BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER funding_policy_in_force_revision_u AFTER UPDATE ON funding_policy_in_force BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
@sqlite CREATE TRIGGER funding_policy_in_force_revision_d AFTER DELETE ON funding_policy_in_force BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = revision + 1; END;
-- PostgreSQL: one statement trigger per table, so a 50,000-row import moves it once per statement.
@postgres CREATE FUNCTION bump_register_revision() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO register_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET revision = register_revision.revision + 1; RETURN NULL; END $$;
@postgres CREATE TRIGGER authorities_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authorities FOR EACH STATEMENT EXECUTE FUNCTION bump_register_revision();
@postgres CREATE TRIGGER schools_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON schools FOR EACH STATEMENT EXECUTE FUNCTION bump_register_revision();
@postgres CREATE TRIGGER census_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON census FOR EACH STATEMENT EXECUTE FUNCTION bump_register_revision();
@postgres CREATE TRIGGER clusters_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clusters FOR EACH STATEMENT EXECUTE FUNCTION bump_register_revision();
@postgres CREATE TRIGGER memberships_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON memberships FOR EACH STATEMENT EXECUTE FUNCTION bump_register_revision();
@postgres CREATE TRIGGER funding_policies_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funding_policies FOR EACH STATEMENT EXECUTE FUNCTION bump_register_revision();
@postgres CREATE TRIGGER funding_policy_versions_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funding_policy_versions FOR EACH STATEMENT EXECUTE FUNCTION bump_register_revision();
@postgres CREATE TRIGGER funding_policy_in_force_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON funding_policy_in_force FOR EACH STATEMENT EXECUTE FUNCTION bump_register_revision();
