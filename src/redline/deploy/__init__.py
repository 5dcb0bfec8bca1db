"""Deploy and verify, with automated rollback: releases recorded in the store, deploy recipes
(the team's own commands, or Capistrano-style release directories), verification after the
switch, and the safety around it: one deploy per environment at a time (:mod:`.lock`), and a
schema guard that refuses a rollback the database cannot take (:mod:`.schema_guard`).
"""
