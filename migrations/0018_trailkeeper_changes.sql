-- A change an admin makes through Trailkeeper reaches CloudTrail under Trailkeeper's own AWS
-- role. The secret's page and the event page name the person instead, by matching the event
-- to the audit entry of the change: by AWS's request id, which the entry keeps, or failing
-- that by the call, the secret and the time.
CREATE INDEX audit_log_aws_requests ON audit_log USING gin ((detail -> 'request_ids'))
    WHERE action = 'secret.changed' AND outcome = 'success';
CREATE INDEX audit_log_secret_changes ON audit_log ((detail ->> 'secret'), occurred_at)
    WHERE action = 'secret.changed' AND outcome = 'success';

-- The audit entry of the change through Trailkeeper that made the CloudTrail event with
-- this request id, or (without a match by id) that made this call on this secret within a
-- minute before and five after the event: the nearest in time.
CREATE FUNCTION trailkeeper_change_for_event(
    request_id text, secret_arn text, call text, event_time timestamptz
)
RETURNS TABLE (audit_id bigint, person text, reason text)
LANGUAGE sql STABLE AS $$
    SELECT id, actor, detail ->> 'reason'
    FROM audit_log
    WHERE action = 'secret.changed' AND outcome = 'success'
      AND ((detail -> 'request_ids') ? request_id
           OR (detail ->> 'secret' = secret_arn
               AND (detail -> 'operations') ? call
               AND occurred_at BETWEEN event_time - interval '1 minute'
                                   AND event_time + interval '5 minutes'))
    ORDER BY (detail -> 'request_ids') ? request_id DESC NULLS LAST,
             abs(extract(epoch FROM occurred_at - event_time))
    LIMIT 1
$$;

-- Tags, replicas and resource policies are changes too, and Trailkeeper makes them.
-- `inventory::changes::CHANGE_EVENTS` lists the same names.
DROP INDEX events_changing_secrets;
CREATE INDEX events_changing_secrets ON events (secret_arn, event_time)
    WHERE event_name IN ('CreateSecret', 'PutSecretValue', 'UpdateSecret',
        'UpdateSecretVersionStage', 'RotateSecret', 'RotationSucceeded', 'RotationFailed',
        'RotationAbandoned', 'CancelRotateSecret', 'DeleteSecret', 'RestoreSecret',
        'TagResource', 'UntagResource', 'ReplicateSecretToRegions',
        'RemoveRegionsFromReplication', 'PutResourcePolicy', 'DeleteResourcePolicy');
