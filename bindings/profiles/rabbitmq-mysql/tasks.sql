-- The table of the tasks component, as state.mysql (components-contrib
-- v1.18.0) creates and migrates it, made once before any sidecar starts.
-- Sidecars that start together on a new table each run the component's
-- migration and collide ("Duplicate column name 'row_id'"), so the stack
-- (and a deployment, before the functions) creates it first. ${TABLE} is
-- the component's tableName.
CREATE DATABASE IF NOT EXISTS todo;
CREATE TABLE IF NOT EXISTS todo.${TABLE} (
  id VARCHAR(255) NOT NULL PRIMARY KEY,
  value JSON NOT NULL,
  isbinary BOOLEAN NOT NULL,
  insertDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updateDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  eTag VARCHAR(36) NOT NULL,
  expiredate TIMESTAMP NULL,
  row_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  INDEX expiredate_idx (expiredate),
  UNIQUE KEY row_id_uidx (row_id)
);
