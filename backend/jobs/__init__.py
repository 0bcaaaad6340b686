"""Jobs: the loops and actors that drive the domains, above them all and below the app.

Each module is one job and receives what it uses (a session maker, the clock, a broker's
actor...) as constructor parameters, never the runtime:

- ``alarm_pipeline`` assembles the alarm loop from the jobs below and the alarm domain's
  evaluator (``backend/alarms/pipeline``): ``alarm_writer`` applies the engine's signals,
  ``rule_watch`` reloads rules and permits, ``alarm_ticks`` runs time-driven rules,
  ``escalation`` escalates and reminds, ``outbox_feed`` shows committed changes to this process
  and ``outbox_relay`` hands each to the broker once;
- ``mail_outbox`` relays queued mail to the ``deliver_mail`` actor, ``broker`` declares the
  Dramatiq actors and starts the embedded worker;
- ``mqtt_consumer`` runs the MQTT consumer and the flusher as a process of their own
  (``anjian mqtt``);
- ``retention`` purges, erases offboarded tenants and signs audit checkpoints daily;
- ``periodic`` is the every-few-seconds loop the timer jobs share.

Every job timed by *now* reads the clock it is given (``backend/core/clock.py``).
"""
