//! JetStream API errors: the `{"code","err_code","description"}` object nats-server puts in
//! every failed API response and publish ack, with constructors mirroring
//! `jetstream_errors_generated.go` (nats-server 2.15) code for code and text for text.

use std::fmt::{self, Display};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// One JetStream API error exactly as nats-server serialises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// HTTP-like status class (400, 404, 500, 503, ...).
    pub code: u16,
    /// JetStream-specific error identifier (100xx); omitted by Go when zero.
    #[serde(default, skip_serializing_if = "is_zero_u16")]
    pub err_code: u16,
    /// Human readable text; omitted by Go when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

impl Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Same shape as Go's `(*ApiError).Error()`.
        write!(f, "{} ({})", self.description, self.err_code)
    }
}

impl std::error::Error for ApiError {}

/// Decode a JSON API request the way nats-server 2.15 does by default (strict mode):
/// an empty, whitespace-only or `null` body yields `T::default()`, unknown fields are rejected
/// with 400/10025 `invalid JSON: json: unknown field "x"` (the same text Go produces).
/// Request types meant for strict decoding carry `#[serde(deny_unknown_fields)]`.
pub fn decode_request<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"null" {
        return Ok(T::default());
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::invalid_json(go_json_error_text(&e)))?;
    drop_nulls(&mut value);
    serde_json::from_value(value).map_err(|e| ApiError::invalid_json(go_json_error_text(&e)))
}

/// Go's decoder leaves a field alone when the JSON says `null` (clients such as async-nats
/// send `"consumer_limits":null`); serde would reject it, so nulls inside objects go first.
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Best-effort translation of a serde_json error into Go's `encoding/json` wording.
fn go_json_error_text(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some(end) = rest.find('`')
    {
        return format!("json: unknown field \"{}\"", &rest[..end]);
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `")
        && let Some(end) = rest.find('`')
    {
        // Go's custom enum unmarshalers say: can not unmarshal "\"bogus\""
        return format!("can not unmarshal \"\\\"{}\\\"\"", &rest[..end]);
    }
    // Strip serde's " at line X column Y" suffix; the rest has no exact Go equivalent.
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}

impl ApiError {
    /// Build an error from its parts (use the named constructors where one exists).
    pub fn new(code: u16, err_code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }
}

/// Generates one `ApiError` constructor per table row: `name(args) => code, err_code, "text";`
/// where `{arg}` placeholders in the text are filled from the `impl Display` arguments.
macro_rules! api_errors {
    ($($(#[$doc:meta])* $name:ident($($arg:ident),*) => $code:expr, $err:expr, $text:literal;)*) => {
        impl ApiError {
            $(
                $(#[$doc])*
                pub fn $name($($arg: impl Display),*) -> Self {
                    Self::new($code, $err, format!($text))
                }
            )*
        }
    };
}

// Codes and texts copied from nats-server 2.15 `server/errors.json` (the source of
// `jetstream_errors_generated.go`); cluster/mirror/source/template/snapshot, batch and
// schedule-detail errors are omitted. `{err}` texts take the raw message of the cause.
api_errors! {
    /// `JSAccountResourcesExceededErr` (Go `NewJSAccountResourcesExceededError`).
    account_resources_exceeded() => 400, 10002, "resource limits exceeded for account";
    /// `JSBadRequestErr` (Go `NewJSBadRequestError`).
    bad_request() => 400, 10003, "bad request";
    /// `JSConsumerCreateErrF` (Go `NewJSConsumerCreateError`).
    consumer_create(err) => 500, 10012, "{err}";
    /// `JSConsumerNameExistErr` (Go `NewJSConsumerNameExistError`).
    consumer_name_exist() => 400, 10013, "consumer name already in use";
    /// `JSConsumerNotFoundErr` (Go `NewJSConsumerNotFoundError`).
    consumer_not_found() => 404, 10014, "consumer not found";
    /// `JSConsumerDurableNameNotInSubjectErr` (Go `NewJSConsumerDurableNameNotInSubjectError`).
    consumer_durable_name_not_in_subject() => 400, 10016, "consumer expected to be durable but no durable name set in subject";
    /// `JSConsumerDurableNameNotMatchSubjectErr` (Go `NewJSConsumerDurableNameNotMatchSubjectError`).
    consumer_durable_name_not_match_subject() => 400, 10017, "consumer name in subject does not match durable name in request";
    /// `JSConsumerDurableNameNotSetErr` (Go `NewJSConsumerDurableNameNotSetError`).
    consumer_durable_name_not_set() => 400, 10018, "consumer expected to be durable but a durable name was not set";
    /// `JSConsumerEphemeralWithDurableInSubjectErr` (Go `NewJSConsumerEphemeralWithDurableInSubjectError`).
    consumer_ephemeral_with_durable_in_subject() => 400, 10019, "consumer expected to be ephemeral but detected a durable name set in subject";
    /// `JSConsumerEphemeralWithDurableNameErr` (Go `NewJSConsumerEphemeralWithDurableNameError`).
    consumer_ephemeral_with_durable_name() => 400, 10020, "consumer expected to be ephemeral but a durable name was set in request";
    /// `JSInsufficientResourcesErr` (Go `NewJSInsufficientResourcesError`).
    insufficient_resources() => 503, 10023, "insufficient resources";
    /// `JSInvalidJSONErr` (Go `NewJSInvalidJSONError`).
    invalid_json(err) => 400, 10025, "invalid JSON: {err}";
    /// `JSMaximumConsumersLimitErr` (Go `NewJSMaximumConsumersLimitError`).
    maximum_consumers_limit() => 400, 10026, "maximum consumers limit reached";
    /// `JSMaximumStreamsLimitErr` (Go `NewJSMaximumStreamsLimitError`).
    maximum_streams_limit() => 400, 10027, "maximum number of streams reached";
    /// `JSMemoryResourcesExceededErr` (Go `NewJSMemoryResourcesExceededError`).
    memory_resources_exceeded() => 500, 10028, "insufficient memory resources available";
    /// `JSNoMessageFoundErr` (Go `NewJSNoMessageFoundError`).
    no_message_found() => 404, 10037, "no message found";
    /// `JSNotEmptyRequestErr` (Go `NewJSNotEmptyRequestError`).
    not_empty_request() => 400, 10038, "expected an empty request payload";
    /// `JSNotEnabledForAccountErr` (Go `NewJSNotEnabledForAccountError`).
    not_enabled_for_account() => 503, 10039, "JetStream not enabled for account";
    /// `JSSequenceNotFoundErrF` (Go `NewJSSequenceNotFoundError`).
    sequence_not_found(seq) => 400, 10043, "sequence {seq} not found";
    /// `JSStorageResourcesExceededErr` (Go `NewJSStorageResourcesExceededError`).
    storage_resources_exceeded() => 500, 10047, "insufficient storage resources available";
    /// `JSStreamCreateErrF` (Go `NewJSStreamCreateError`).
    stream_create(err) => 500, 10049, "{err}";
    /// `JSStreamDeleteErrF` (Go `NewJSStreamDeleteError`).
    stream_delete(err) => 500, 10050, "{err}";
    /// `JSStreamGeneralErrorF` (Go `NewJSStreamGeneralError`).
    stream_general(err) => 500, 10051, "{err}";
    /// `JSStreamInvalidConfigF` (Go `NewJSStreamInvalidConfigError`).
    stream_invalid_config(err) => 500, 10052, "{err}";
    /// `JSStreamMessageExceedsMaximumErr` (Go `NewJSStreamMessageExceedsMaximumError`).
    stream_message_exceeds_maximum() => 400, 10054, "message size exceeds maximum allowed";
    /// `JSStreamMismatchErr` (Go `NewJSStreamMismatchError`).
    stream_mismatch() => 400, 10056, "stream name in subject does not match request";
    /// `JSStreamMsgDeleteFailedF` (Go `NewJSStreamMsgDeleteFailedError`).
    stream_msg_delete_failed(err) => 500, 10057, "{err}";
    /// `JSStreamNameExistErr` (Go `NewJSStreamNameExistError`).
    stream_name_exist() => 400, 10058, "stream name already in use with a different configuration";
    /// `JSStreamNotFoundErr` (Go `NewJSStreamNotFoundError`).
    stream_not_found() => 404, 10059, "stream not found";
    /// `JSStreamNotMatchErr` (Go `NewJSStreamNotMatchError`).
    stream_not_match() => 400, 10060, "expected stream does not match";
    /// `JSStreamReplicasNotUpdatableErr` (Go `NewJSStreamReplicasNotUpdatableError`).
    stream_replicas_not_updatable() => 400, 10061, "Replicas configuration can not be updated";
    /// `JSStreamSequenceNotMatchErr` (Go `NewJSStreamSequenceNotMatchError`).
    stream_sequence_not_match() => 503, 10063, "expected stream sequence does not match";
    /// `JSStreamSubjectOverlapErr` (Go `NewJSStreamSubjectOverlapError`).
    stream_subject_overlap() => 400, 10065, "subjects overlap with an existing stream";
    /// `JSStreamUpdateErrF` (Go `NewJSStreamUpdateError`).
    stream_update(err) => 500, 10069, "{err}";
    /// `JSStreamWrongLastMsgIDErrF` (Go `NewJSStreamWrongLastMsgIDError`).
    stream_wrong_last_msg_id(id) => 400, 10070, "wrong last msg ID: {id}";
    /// `JSStreamWrongLastSequenceErrF` (Go `NewJSStreamWrongLastSequenceError`).
    stream_wrong_last_sequence(seq) => 400, 10071, "wrong last sequence: {seq}";
    /// `JSStreamReplicasNotSupportedErr` (Go `NewJSStreamReplicasNotSupportedError`).
    stream_replicas_not_supported() => 500, 10074, "replicas > 1 not supported in non-clustered mode";
    /// `JSNotEnabledErr` (Go `NewJSNotEnabledError`).
    not_enabled() => 503, 10076, "JetStream not enabled";
    /// `JSStreamStoreFailedF` (Go `NewJSStreamStoreFailedError`).
    stream_store_failed(err) => 503, 10077, "{err}";
    /// `JSConsumerConfigRequiredErr` (Go `NewJSConsumerConfigRequiredError`).
    consumer_config_required() => 400, 10078, "consumer config required";
    /// `JSConsumerDeliverToWildcardsErr` (Go `NewJSConsumerDeliverToWildcardsError`).
    consumer_deliver_to_wildcards() => 400, 10079, "consumer deliver subject has wildcards";
    /// `JSConsumerPushMaxWaitingErr` (Go `NewJSConsumerPushMaxWaitingError`).
    consumer_push_max_waiting() => 400, 10080, "consumer in push mode can not set max waiting";
    /// `JSConsumerDeliverCycleErr` (Go `NewJSConsumerDeliverCycleError`).
    consumer_deliver_cycle() => 400, 10081, "consumer deliver subject forms a cycle";
    /// `JSConsumerMaxPendingAckPolicyRequiredErr` (Go `NewJSConsumerMaxPendingAckPolicyRequiredError`).
    consumer_max_pending_ack_policy_required() => 400, 10082, "consumer requires ack policy for max ack pending";
    /// `JSConsumerSmallHeartbeatErr` (Go `NewJSConsumerSmallHeartbeatError`).
    consumer_small_heartbeat() => 400, 10083, "consumer idle heartbeat needs to be >= 100ms";
    /// `JSConsumerPullRequiresAckErr` (Go `NewJSConsumerPullRequiresAckError`).
    consumer_pull_requires_ack() => 400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream";
    /// `JSConsumerPullNotDurableErr` (Go `NewJSConsumerPullNotDurableError`).
    consumer_pull_not_durable() => 400, 10085, "consumer in pull mode requires a durable name";
    /// `JSConsumerPullWithRateLimitErr` (Go `NewJSConsumerPullWithRateLimitError`).
    consumer_pull_with_rate_limit() => 400, 10086, "consumer in pull mode can not have rate limit set";
    /// `JSConsumerMaxWaitingNegativeErr` (Go `NewJSConsumerMaxWaitingNegativeError`).
    consumer_max_waiting_negative() => 400, 10087, "consumer max waiting needs to be positive";
    /// `JSConsumerHBRequiresPushErr` (Go `NewJSConsumerHBRequiresPushError`).
    consumer_hb_requires_push() => 400, 10088, "consumer idle heartbeat requires a push based consumer";
    /// `JSConsumerFCRequiresPushErr` (Go `NewJSConsumerFCRequiresPushError`).
    consumer_fc_requires_push() => 400, 10089, "consumer flow control requires a push based consumer";
    /// `JSConsumerInvalidPolicyErrF` (Go `NewJSConsumerInvalidPolicyError`).
    consumer_invalid_policy(err) => 400, 10094, "{err}";
    /// `JSConsumerInvalidSamplingErrF` (Go `NewJSConsumerInvalidSamplingError`).
    consumer_invalid_sampling(err) => 400, 10095, "failed to parse consumer sampling configuration: {err}";
    /// `JSStreamInvalidErr` (Go `NewJSStreamInvalidError`).
    stream_invalid() => 500, 10096, "stream not valid";
    /// `JSStreamHeaderExceedsMaximumErr` (Go `NewJSStreamHeaderExceedsMaximumError`).
    stream_header_exceeds_maximum() => 400, 10097, "header size exceeds maximum allowed of 64k";
    /// `JSConsumerWQRequiresExplicitAckErr` (Go `NewJSConsumerWQRequiresExplicitAckError`).
    consumer_wq_requires_explicit_ack() => 400, 10098, "workqueue stream requires explicit ack";
    /// `JSConsumerWQMultipleUnfilteredErr` (Go `NewJSConsumerWQMultipleUnfilteredError`).
    consumer_wq_multiple_unfiltered() => 400, 10099, "multiple non-filtered consumers not allowed on workqueue stream";
    /// `JSConsumerWQConsumerNotUniqueErr` (Go `NewJSConsumerWQConsumerNotUniqueError`).
    consumer_wq_consumer_not_unique() => 400, 10100, "filtered consumer not unique on workqueue stream";
    /// `JSConsumerWQConsumerNotDeliverAllErr` (Go `NewJSConsumerWQConsumerNotDeliverAllError`).
    consumer_wq_consumer_not_deliver_all() => 400, 10101, "consumer must be deliver all on workqueue stream";
    /// `JSConsumerNameTooLongErrF` (Go `NewJSConsumerNameTooLongError`).
    consumer_name_too_long(max) => 400, 10102, "consumer name is too long, maximum allowed is {max}";
    /// `JSConsumerBadDurableNameErr` (Go `NewJSConsumerBadDurableNameError`).
    consumer_bad_durable_name() => 400, 10103, "durable name can not contain '.', '*', '>'";
    /// `JSConsumerStoreFailedErrF` (Go `NewJSConsumerStoreFailedError`).
    consumer_store_failed(err) => 500, 10104, "error creating store for consumer: {err}";
    /// `JSConsumerExistingActiveErr` (Go `NewJSConsumerExistingActiveError`).
    consumer_existing_active() => 400, 10105, "consumer already exists and is still active";
    /// `JSConsumerDescriptionTooLongErrF` (Go `NewJSConsumerDescriptionTooLongError`).
    consumer_description_too_long(max) => 400, 10107, "consumer description is too long, maximum allowed is {max}";
    /// `JSConsumerWithFlowControlNeedsHeartbeats` (Go `NewJSConsumerWithFlowControlNeedsHeartbeatsError`).
    consumer_with_flow_control_needs_heartbeats() => 400, 10108, "consumer with flow control also needs heartbeats";
    /// `JSStreamSealedErr` (Go `NewJSStreamSealedError`).
    stream_sealed() => 400, 10109, "invalid operation on sealed stream";
    /// `JSStreamPurgeFailedF` (Go `NewJSStreamPurgeFailedError`).
    stream_purge_failed(err) => 500, 10110, "{err}";
    /// `JSStreamRollupFailedF` (Go `NewJSStreamRollupFailedError`).
    stream_rollup_failed(err) => 500, 10111, "{err}";
    /// `JSConsumerInvalidDeliverSubject` (Go `NewJSConsumerInvalidDeliverSubjectError`).
    consumer_invalid_deliver_subject() => 400, 10112, "invalid push consumer deliver subject";
    /// `JSStreamMaxBytesRequired` (Go `NewJSStreamMaxBytesRequiredError`).
    stream_max_bytes_required() => 400, 10113, "account requires a stream config to have max bytes set";
    /// `JSConsumerMaxRequestBatchNegativeErr` (Go `NewJSConsumerMaxRequestBatchNegativeError`).
    consumer_max_request_batch_negative() => 400, 10114, "consumer max request batch needs to be > 0";
    /// `JSConsumerMaxRequestExpiresTooSmall` (Go `NewJSConsumerMaxRequestExpiresTooSmallError`).
    consumer_max_request_expires_too_small() => 400, 10115, "consumer max request expires needs to be >= 1ms";
    /// `JSConsumerMaxDeliverBackoffErr` (Go `NewJSConsumerMaxDeliverBackoffError`).
    consumer_max_deliver_backoff() => 400, 10116, "max deliver is required to be > length of backoff values";
    /// `JSConsumerMaxPendingAckExcessErrF` (Go `NewJSConsumerMaxPendingAckExcessError`).
    consumer_max_pending_ack_excess(limit) => 400, 10121, "consumer max ack pending exceeds system limit of {limit}";
    /// `JSStreamMaxStreamBytesExceeded` (Go `NewJSStreamMaxStreamBytesExceededError`).
    stream_max_stream_bytes_exceeded() => 400, 10122, "stream max bytes exceeds account limit max stream bytes";
    /// `JSConsumerMaxRequestBatchExceededF` (Go `NewJSConsumerMaxRequestBatchExceededError`).
    consumer_max_request_batch_exceeded(limit) => 400, 10125, "consumer max request batch exceeds server limit of {limit}";
    /// `JSConsumerReplicasExceedsStream` (Go `NewJSConsumerReplicasExceedsStreamError`).
    consumer_replicas_exceeds_stream() => 400, 10126, "consumer config replica count exceeds parent stream";
    /// `JSConsumerNameContainsPathSeparatorsErr` (Go `NewJSConsumerNameContainsPathSeparatorsError`).
    consumer_name_contains_path_separators() => 400, 10127, "Consumer name can not contain path separators";
    /// `JSStreamNameContainsPathSeparatorsErr` (Go `NewJSStreamNameContainsPathSeparatorsError`).
    stream_name_contains_path_separators() => 400, 10128, "Stream name can not contain path separators";
    /// `JSConsumerCreateFilterSubjectMismatchErr` (Go `NewJSConsumerCreateFilterSubjectMismatchError`).
    consumer_create_filter_subject_mismatch() => 400, 10131, "Consumer create request did not match filtered subject from create subject";
    /// `JSConsumerCreateDurableAndNameMismatch` (Go `NewJSConsumerCreateDurableAndNameMismatchError`).
    consumer_create_durable_and_name_mismatch() => 400, 10132, "Consumer Durable and Name have to be equal if both are provided";
    /// `JSReplicasCountCannotBeNegative` (Go `NewJSReplicasCountCannotBeNegativeError`).
    replicas_count_cannot_be_negative() => 400, 10133, "replicas count cannot be negative";
    /// `JSConsumerReplicasShouldMatchStream` (Go `NewJSConsumerReplicasShouldMatchStreamError`).
    consumer_replicas_should_match_stream() => 400, 10134, "consumer config replicas must match interest retention stream's replicas";
    /// `JSConsumerMetadataLengthErrF` (Go `NewJSConsumerMetadataLengthError`).
    consumer_metadata_length(limit) => 400, 10135, "consumer metadata exceeds maximum size of {limit}";
    /// `JSConsumerDuplicateFilterSubjects` (Go `NewJSConsumerDuplicateFilterSubjectsError`).
    consumer_duplicate_filter_subjects() => 400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified";
    /// `JSConsumerMultipleFiltersNotAllowed` (Go `NewJSConsumerMultipleFiltersNotAllowedError`).
    consumer_multiple_filters_not_allowed() => 400, 10137, "consumer with multiple subject filters cannot use subject based API";
    /// `JSConsumerOverlappingSubjectFilters` (Go `NewJSConsumerOverlappingSubjectFiltersError`).
    consumer_overlapping_subject_filters() => 400, 10138, "consumer subject filters cannot overlap";
    /// `JSConsumerEmptyFilter` (Go `NewJSConsumerEmptyFilterError`).
    consumer_empty_filter() => 400, 10139, "consumer filter in FilterSubjects cannot be empty";
    /// `JSConsumerAlreadyExists` (Go `NewJSConsumerAlreadyExistsError`).
    consumer_already_exists() => 400, 10148, "consumer already exists";
    /// `JSConsumerDoesNotExist` (Go `NewJSConsumerDoesNotExistError`).
    consumer_does_not_exist() => 400, 10149, "consumer does not exist";
    /// `JSConsumerInactiveThresholdExcess` (Go `NewJSConsumerInactiveThresholdExcessError`).
    consumer_inactive_threshold_excess(limit) => 400, 10153, "consumer inactive threshold exceeds system limit of {limit}";
    /// `JSStreamTransformInvalidSource` (Go `NewJSStreamTransformInvalidSourceError`).
    stream_transform_invalid_source(err) => 400, 10155, "stream transform source: {err}";
    /// `JSStreamTransformInvalidDestination` (Go `NewJSStreamTransformInvalidDestinationError`).
    stream_transform_invalid_destination(err) => 400, 10156, "stream transform: {err}";
    /// `JSPedanticErrF` (Go `NewJSPedanticError`).
    pedantic(err) => 400, 10157, "pedantic mode: {err}";
    /// `JSStreamDuplicateMessageConflict` (Go `NewJSStreamDuplicateMessageConflictError`).
    stream_duplicate_message_conflict() => 409, 10158, "duplicate message id is in process";
    /// `JSConsumerPriorityPolicyWithoutGroup` (Go `NewJSConsumerPriorityPolicyWithoutGroupError`).
    consumer_priority_policy_without_group() => 400, 10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set";
    /// `JSConsumerInvalidPriorityGroupErr` (Go `NewJSConsumerInvalidPriorityGroupError`).
    consumer_invalid_priority_group() => 400, 10160, "Provided priority group does not exist for this consumer";
    /// `JSConsumerEmptyGroupName` (Go `NewJSConsumerEmptyGroupNameError`).
    consumer_empty_group_name() => 400, 10161, "Group name cannot be an empty string";
    /// `JSConsumerInvalidGroupNameErr` (Go `NewJSConsumerInvalidGroupNameError`).
    consumer_invalid_group_name() => 400, 10162, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters";
    /// `JSStreamWrongLastSequenceConstantErr` (Go `NewJSStreamWrongLastSequenceConstantError`).
    stream_wrong_last_sequence_constant() => 400, 10164, "wrong last sequence";
    /// `JSMessageTTLInvalidErr` (Go `NewJSMessageTTLInvalidError`).
    message_ttl_invalid() => 400, 10165, "invalid per-message TTL";
    /// `JSMessageTTLDisabledErr` (Go `NewJSMessageTTLDisabledError`).
    message_ttl_disabled() => 400, 10166, "per-message TTL is disabled";
    /// `JSStreamTooManyRequests` (Go `NewJSStreamTooManyRequestsError`).
    stream_too_many_requests() => 429, 10167, "too many requests";
    /// `JSAtomicPublishDisabledErr` (Go `NewJSAtomicPublishDisabledError`).
    atomic_publish_disabled() => 400, 10174, "atomic publish is disabled";
    /// `JSConsumerPushWithPriorityGroupErr` (Go `NewJSConsumerPushWithPriorityGroupError`).
    consumer_push_with_priority_group() => 400, 10178, "priority groups can not be used with push consumers";
    /// `JSConsumerAckPolicyInvalidErr` (Go `NewJSConsumerAckPolicyInvalidError`).
    consumer_ack_policy_invalid() => 400, 10181, "consumer ack policy invalid";
    /// `JSConsumerReplayPolicyInvalidErr` (Go `NewJSConsumerReplayPolicyInvalidError`).
    consumer_replay_policy_invalid() => 400, 10182, "consumer replay policy invalid";
    /// `JSConsumerAckWaitNegativeErr` (Go `NewJSConsumerAckWaitNegativeError`).
    consumer_ack_wait_negative() => 400, 10183, "consumer ack wait needs to be positive";
    /// `JSConsumerBackOffNegativeErr` (Go `NewJSConsumerBackOffNegativeError`).
    consumer_back_off_negative() => 400, 10184, "consumer backoff needs to be positive";
    /// `JSRequiredApiLevelErr` (Go `NewJSRequiredApiLevelError`).
    required_api_level() => 412, 10185, "JetStream minimum api level required";
    /// `JSMessageSchedulesDisabledErr` (Go `NewJSMessageSchedulesDisabledError`).
    message_schedules_disabled() => 400, 10188, "message schedules is disabled";
    /// `JSStreamExpectedLastSeqPerSubjectInvalid` (Go `NewJSStreamExpectedLastSeqPerSubjectInvalidError`).
    stream_expected_last_seq_per_subject_invalid() => 400, 10193, "missing sequence for expected last sequence per subject";
    /// `JSConsumerPriorityGroupWithPolicyNone` (Go `NewJSConsumerPriorityGroupWithPolicyNoneError`).
    consumer_priority_group_with_policy_none() => 400, 10196, "consumer can not have priority groups when policy is none";
    /// `JSConsumerPinnedTTLWithoutPriorityPolicyNone` (Go `NewJSConsumerPinnedTTLWithoutPriorityPolicyNoneError`).
    consumer_pinned_ttl_without_priority_policy_none() => 400, 10197, "PinnedTTL cannot be set when PriorityPolicy is none";
    /// `JSBatchPublishDisabledErr` (Go `NewJSBatchPublishDisabledError`).
    batch_publish_disabled() => 400, 10205, "batch publish is disabled";
    /// `JSConsumerAckFCRequiresPushErr` (Go `NewJSConsumerAckFCRequiresPushError`).
    consumer_ack_fc_requires_push() => 400, 10218, "flow control ack policy requires a push based consumer";
    /// `JSConsumerAckFCRequiresFCErr` (Go `NewJSConsumerAckFCRequiresFCError`).
    consumer_ack_fc_requires_fc() => 400, 10219, "flow control ack policy requires flow control";
    /// `JSConsumerAckFCRequiresMaxAckPendingErr` (Go `NewJSConsumerAckFCRequiresMaxAckPendingError`).
    consumer_ack_fc_requires_max_ack_pending() => 400, 10220, "flow control ack policy requires max ack pending";
    /// `JSConsumerAckFCRequiresNoAckWaitErr` (Go `NewJSConsumerAckFCRequiresNoAckWaitError`).
    consumer_ack_fc_requires_no_ack_wait() => 400, 10221, "flow control ack policy requires unset ack wait";
    /// `JSConsumerAckFCRequiresNoMaxDeliverErr` (Go `NewJSConsumerAckFCRequiresNoMaxDeliverError`).
    consumer_ack_fc_requires_no_max_deliver() => 400, 10222, "flow control ack policy requires unset max deliver";
    /// `JSMessageSourceHdrNotAllowedErr` (Go `NewJSMessageSourceHdrNotAllowedError`).
    message_source_hdr_not_allowed() => 400, 10227, "message stream source header is not allowed";
}
