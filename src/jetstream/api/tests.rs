//! Round-trip tests against JSON captured from a real nats-server 2.15.1 (standalone, name `testsrv`).

use super::errors::*;
use super::types::*;
use serde_json::Value;

/// (capture name, JSON) pairs for typed round-trip checks, grouped by response type.
const ACCOUNTINFORESPONSE: &[(&str, &str)] = &[
    (
        "account_info_empty",
        r#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":0,"reserved_memory":0,"reserved_storage":0,"streams":0,"consumers":0,"limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,"max_consumers":-1,"max_ack_pending":-1,"memory_max_stream_bytes":-1,"storage_max_stream_bytes":-1,"max_bytes_required":false},"api":{"level":5,"total":0,"errors":0}}"#,
    ),
    (
        "account_info",
        r#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":115,"storage":0,"reserved_memory":100000,"reserved_storage":0,"streams":4,"consumers":6,"limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,"max_consumers":-1,"max_ack_pending":-1,"memory_max_stream_bytes":-1,"storage_max_stream_bytes":-1,"max_bytes_required":false},"api":{"level":5,"total":70,"errors":27}}"#,
    ),
];
const STREAMNAMESRESPONSE: &[(&str, &str)] = &[
    (
        "stream_names_empty",
        r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":0,"offset":0,"limit":1024,"streams":null}"#,
    ),
    (
        "stream_names",
        r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":5,"offset":0,"limit":1024,"streams":["CNT","FULL","ORDERS","PLAIN","SCH"]}"#,
    ),
];
const STREAMLISTRESPONSE: &[(&str, &str)] = &[
    (
        "stream_list_empty",
        r#"{"type":"io.nats.jetstream.api.v1.stream_list_response","total":0,"offset":0,"limit":256,"streams":[]}"#,
    ),
    (
        "stream_list",
        r#"{"type":"io.nats.jetstream.api.v1.stream_list_response","total":5,"offset":0,"limit":256,"streams":[{"config":{"name":"CNT","subjects":["CNT"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"allow_msg_counter":true,"persist_mode":"async","metadata":{"_nats.req.level":"2"}},"created":"2026-11-27T09:29:41.133878257Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.145344729Z"},{"config":{"name":"FULL","description":"d","subjects":["full.\u003e"],"retention":"limits","max_consumers":10,"max_msgs":100,"max_bytes":100000,"max_age":3600000000000,"max_msgs_per_subject":5,"max_msg_size":1024,"discard":"new","storage":"memory","num_replicas":1,"duplicate_window":60000000000,"placement":{},"compression":"none","first_seq":10,"subject_transform":{"src":"full.\u003e","dest":"full.\u003e"},"republish":{"src":"full.\u003e","dest":"rp.\u003e"},"allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{"inactive_threshold":10000000000,"max_ack_pending":50},"allow_msg_ttl":true,"subject_delete_marker_ttl":5000000000,"allow_atomic":true,"metadata":{"_nats.req.level":"2","a":"b"}},"created":"2026-11-27T09:29:41.131354333Z","state":{"messages":5,"bytes":115,"first_seq":10,"first_ts":"2026-11-27T09:29:41.13821109Z","last_seq":14,"last_ts":"2026-11-27T09:29:41.13893551Z","num_subjects":1,"consumer_count":0},"ts":"2026-11-27T09:29:41.145345731Z"},{"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.req.level":"0"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":288,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":6,"last_ts":"2026-11-27T09:29:41.144116067Z","num_subjects":3,"num_deleted":1,"consumer_count":0},"ts":"2026-11-27T09:29:41.145346232Z"},{"config":{"name":"PLAIN","subjects":["PLAIN"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.req.level":"0"}},"created":"2026-11-27T09:29:41.130606648Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.145346823Z"},{"config":{"name":"SCH","subjects":["SCH"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"s2","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{},"allow_msg_ttl":false,"allow_msg_schedules":true,"persist_mode":"async","metadata":{"_nats.req.level":"2"}},"created":"2026-11-27T09:29:41.13460429Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.145347934Z"}]}"#,
    ),
];
const STREAMCREATERESPONSE: &[(&str, &str)] = &[
    (
        "stream_create_min",
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.129434269Z","did_create":true}"#,
    ),
    (
        "stream_create_full",
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"FULL","description":"d","subjects":["full.\u003e"],"retention":"limits","max_consumers":10,"max_msgs":100,"max_bytes":100000,"max_age":3600000000000,"max_msgs_per_subject":5,"max_msg_size":1024,"discard":"new","storage":"memory","num_replicas":1,"duplicate_window":60000000000,"placement":{},"compression":"none","first_seq":10,"subject_transform":{"src":"full.\u003e","dest":"full.\u003e"},"republish":{"src":"full.\u003e","dest":"rp.\u003e"},"allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{"inactive_threshold":10000000000,"max_ack_pending":50},"allow_msg_ttl":true,"subject_delete_marker_ttl":5000000000,"allow_atomic":true,"metadata":{"_nats.level":"5","_nats.req.level":"2","_nats.ver":"2.15.1","a":"b"}},"created":"2026-11-27T09:29:41.131354333Z","state":{"messages":0,"bytes":0,"first_seq":10,"first_ts":"0001-01-01T00:00:00Z","last_seq":9,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.131436796Z","did_create":true}"#,
    ),
    (
        "stream_create_counter",
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"CNT","subjects":["CNT"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"allow_msg_counter":true,"persist_mode":"async","metadata":{"_nats.level":"5","_nats.req.level":"2","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.133878257Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.134279185Z","did_create":true}"#,
    ),
    (
        "stream_create_sched",
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"SCH","subjects":["SCH"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"s2","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{},"allow_msg_ttl":false,"allow_msg_schedules":true,"persist_mode":"async","metadata":{"_nats.level":"5","_nats.req.level":"2","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.13460429Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.13500647Z","did_create":true}"#,
    ),
    (
        "stream_create_conflict",
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}}"#,
    ),
];
const STREAMINFORESPONSE: &[(&str, &str)] = &[
    (
        "stream_info",
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
    (
        "stream_info_subjects",
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":2,"offset":0,"limit":100000,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"subjects":{"orders.hdr":1,"orders.new":4},"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.139680772Z"}"#,
    ),
    (
        "stream_info_deleted",
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":4,"bytes":246,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"num_deleted":1,"deleted":[2],"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.141485023Z"}"#,
    ),
    (
        "stream_info_full",
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"FULL","description":"d","subjects":["full.\u003e"],"retention":"limits","max_consumers":10,"max_msgs":100,"max_bytes":100000,"max_age":3600000000000,"max_msgs_per_subject":5,"max_msg_size":1024,"discard":"new","storage":"memory","num_replicas":1,"duplicate_window":60000000000,"placement":{},"compression":"none","first_seq":10,"subject_transform":{"src":"full.\u003e","dest":"full.\u003e"},"republish":{"src":"full.\u003e","dest":"rp.\u003e"},"allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{"inactive_threshold":10000000000,"max_ack_pending":50},"allow_msg_ttl":true,"subject_delete_marker_ttl":5000000000,"allow_atomic":true,"metadata":{"_nats.level":"5","_nats.req.level":"2","_nats.ver":"2.15.1","a":"b"}},"created":"2026-11-27T09:29:41.131354333Z","state":{"messages":5,"bytes":115,"first_seq":10,"first_ts":"2026-11-27T09:29:41.13821109Z","last_seq":14,"last_ts":"2026-11-27T09:29:41.13893551Z","num_subjects":1,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.141726022Z"}"#,
    ),
    (
        "stream_info_after_purge",
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":0,"bytes":0,"first_seq":7,"first_ts":"0001-01-01T00:00:00Z","last_seq":6,"last_ts":"2026-11-27T09:29:41.144116067Z","consumer_count":6},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:42.862075784Z"}"#,
    ),
];
const STREAMUPDATERESPONSE: &[(&str, &str)] = &[(
    "stream_update",
    r#"{"type":"io.nats.jetstream.api.v1.stream_update_response","config":{"name":"PLAIN","subjects":["PLAIN","plain2"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.130606648Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:42.862644622Z"}"#,
)];
const SUCCESSRESPONSE: &[(&str, &str)] = &[
    (
        "stream_msg_delete",
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","success":true}"#,
    ),
    (
        "stream_delete",
        r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","success":true}"#,
    ),
    (
        "consumer_delete",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_delete_response","success":true}"#,
    ),
];
const STREAMPURGERESPONSE: &[(&str, &str)] = &[(
    "stream_purge",
    r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":4}"#,
)];
const MSGGETRESPONSE: &[(&str, &str)] = &[
    (
        "msg_get_seq",
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"orders.new","seq":1,"data":"aGVsbG8gMA==","time":"2026-11-27T09:29:41.135316232Z"}}"#,
    ),
    (
        "msg_get_hdr",
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"orders.hdr","seq":5,"hdrs":"TkFUUy8xLjANClgtRm9vOiBiYXINCg0K","data":"d2l0aGhkcg==","time":"2026-11-27T09:29:41.136368321Z"}}"#,
    ),
    (
        "msg_get_empty_payload",
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"orders.empty","seq":6,"time":"2026-11-27T09:29:41.144116067Z"}}"#,
    ),
];
const CONSUMERNAMESRESPONSE: &[(&str, &str)] = &[
    (
        "consumer_names_empty",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","total":0,"offset":0,"limit":1024,"consumers":[]}"#,
    ),
    (
        "consumer_names",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","total":7,"offset":0,"limit":1024,"consumers":["cITBHjPj","dur1","full","leg","orMKzO1I","push1","st"]}"#,
    ),
];
const CONSUMERLISTRESPONSE: &[(&str, &str)] = &[
    (
        "consumer_list_empty",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_list_response","total":0,"offset":0,"limit":256,"consumers":[]}"#,
    ),
    (
        "consumer_list",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_list_response","total":7,"offset":0,"limit":256,"consumers":[{"stream_name":"ORDERS","name":"cITBHjPj","created":"2026-11-27T09:29:41.148703299Z","config":{"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_ack_pending":1000,"flow_control":true,"deliver_subject":"dlv.e","idle_heartbeat":5000000000,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.req.level":"0"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:42.859133546Z"},{"stream_name":"ORDERS","name":"dur1","created":"2026-11-27T09:29:41.146245283Z","config":{"durable_name":"dur1","name":"dur1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.req.level":"0"}},"delivered":{"consumer_seq":2,"stream_seq":3,"last_active":"2026-11-27T09:29:41.154412033Z"},"ack_floor":{"consumer_seq":1,"stream_seq":2,"last_active":"2026-11-27T09:29:41.15465826Z"},"num_ack_pending":1,"num_redelivered":0,"num_waiting":0,"num_pending":3,"ts":"2026-11-27T09:29:42.859160426Z"},{"stream_name":"ORDERS","name":"full","created":"2026-11-27T09:29:41.14940796Z","config":{"durable_name":"full","name":"full","description":"desc","deliver_policy":"by_start_sequence","opt_start_seq":2,"ack_policy":"all","ack_wait":10000000000,"max_deliver":5,"backoff":[10000000000,20000000000],"filter_subject":"orders.new","replay_policy":"instant","sample_freq":"50%","max_waiting":10,"max_ack_pending":20,"headers_only":true,"max_batch":5,"max_expires":60000000000,"max_bytes":1000,"inactive_threshold":60000000000,"num_replicas":1,"mem_storage":true,"metadata":{"_nats.req.level":"1","k":"v"},"priority_groups":["g1"],"priority_policy":"pinned_client","priority_timeout":120000000000},"delivered":{"consumer_seq":0,"stream_seq":1},"ack_floor":{"consumer_seq":0,"stream_seq":1},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":2,"ts":"2026-11-27T09:29:42.859161447Z","priority_groups":[{"group":"g1","pinned_ts":"0001-01-01T00:00:00Z"}]},{"stream_name":"ORDERS","name":"leg","created":"2026-11-27T09:29:41.151888549Z","config":{"durable_name":"leg","name":"leg","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.req.level":"0"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:42.859162759Z"},{"stream_name":"ORDERS","name":"orMKzO1I","created":"2026-11-27T09:29:41.147573654Z","config":{"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.req.level":"0"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:42.859173735Z"},{"stream_name":"ORDERS","name":"push1","created":"2026-11-27T09:29:41.148154821Z","config":{"durable_name":"push1","name":"push1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"dlv.push1","deliver_group":"q","num_replicas":0,"metadata":{"_nats.req.level":"0"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:42.859183931Z"},{"stream_name":"ORDERS","name":"st","created":"2026-11-27T09:29:41.149848056Z","config":{"durable_name":"st","name":"st","deliver_policy":"by_start_time","opt_start_time":"2020-01-02T03:04:05.123456789Z","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subjects":["orders.new","orders.hdr"],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.req.level":"1"},"pause_until":"2099-01-01T00:00:00Z"},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":4,"paused":true,"pause_remaining":2275137017140807587,"ts":"2026-11-27T09:29:42.859192093Z"}]}"#,
    ),
];
const CONSUMERCREATERESPONSE: &[(&str, &str)] = &[
    (
        "consumer_create_durable_pull",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"dur1","created":"2026-11-27T09:29:41.146245283Z","config":{"durable_name":"dur1","name":"dur1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:41.146625079Z"}"#,
    ),
    (
        "consumer_create_ephemeral_pull",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"orMKzO1I","created":"2026-11-27T09:29:41.147573654Z","config":{"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:41.147819851Z"}"#,
    ),
    (
        "consumer_create_push",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"push1","created":"2026-11-27T09:29:41.148154821Z","config":{"durable_name":"push1","name":"push1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"dlv.push1","deliver_group":"q","num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:41.148394598Z"}"#,
    ),
    (
        "consumer_create_push_eph",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"cITBHjPj","created":"2026-11-27T09:29:41.148703299Z","config":{"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_ack_pending":1000,"flow_control":true,"deliver_subject":"dlv.e","idle_heartbeat":5000000000,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:41.148979651Z"}"#,
    ),
    (
        "consumer_create_full",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"full","created":"2026-11-27T09:29:41.14940796Z","config":{"durable_name":"full","name":"full","description":"desc","deliver_policy":"by_start_sequence","opt_start_seq":2,"ack_policy":"all","ack_wait":10000000000,"max_deliver":5,"backoff":[10000000000,20000000000],"filter_subject":"orders.new","replay_policy":"instant","sample_freq":"50%","max_waiting":10,"max_ack_pending":20,"headers_only":true,"max_batch":5,"max_expires":60000000000,"max_bytes":1000,"inactive_threshold":60000000000,"num_replicas":1,"mem_storage":true,"metadata":{"_nats.level":"5","_nats.req.level":"1","_nats.ver":"2.15.1","k":"v"},"priority_groups":["g1"],"priority_policy":"pinned_client","priority_timeout":120000000000},"delivered":{"consumer_seq":0,"stream_seq":1},"ack_floor":{"consumer_seq":0,"stream_seq":1},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":2,"ts":"2026-11-27T09:29:41.149460618Z","priority_groups":[{"group":"g1","pinned_ts":"0001-01-01T00:00:00Z"}]}"#,
    ),
    (
        "consumer_create_starttime",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"st","created":"2026-11-27T09:29:41.149848056Z","config":{"durable_name":"st","name":"st","deliver_policy":"by_start_time","opt_start_time":"2020-01-02T03:04:05.123456789Z","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subjects":["orders.new","orders.hdr"],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"1","_nats.ver":"2.15.1"},"pause_until":"2099-01-01T00:00:00Z"},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":4,"paused":true,"pause_remaining":2275137018849864585,"ts":"2026-11-27T09:29:41.150135094Z"}"#,
    ),
    (
        "cc_no_config_ack",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"def","created":"2026-11-27T09:30:23.272161898Z","config":{"name":"def","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":6},"ack_floor":{"consumer_seq":0,"stream_seq":6},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":0,"ts":"2026-11-27T09:30:23.272347906Z"}"#,
    ),
    (
        "cc_maxcons",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"FULL","name":"m1","created":"2026-11-27T09:30:23.274685893Z","config":{"name":"m1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":50,"inactive_threshold":10000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":9},"ack_floor":{"consumer_seq":0,"stream_seq":9},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:30:23.274705272Z"}"#,
    ),
];
const CONSUMERINFORESPONSE: &[(&str, &str)] = &[(
    "consumer_info_after",
    r#"{"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"ORDERS","name":"dur1","created":"2026-11-27T09:29:41.146245283Z","config":{"durable_name":"dur1","name":"dur1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":2,"stream_seq":3,"last_active":"2026-11-27T09:29:41.154412033Z"},"ack_floor":{"consumer_seq":1,"stream_seq":2,"last_active":"2026-11-27T09:29:41.15465826Z"},"num_ack_pending":1,"num_redelivered":0,"num_waiting":0,"num_pending":3,"ts":"2026-11-27T09:29:42.857817142Z"}"#,
)];

/// Error responses: (capture name, kind, JSON).
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "stream_create_conflict",
        "stream_create",
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}}"#,
    ),
    (
        "stream_create_unknown_field",
        "stream_create",
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,"err_code":10025,"description":"invalid JSON: json: unknown field \"bogus_field\""}}"#,
    ),
    (
        "stream_info_notfound",
        "stream_info",
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0}"#,
    ),
    (
        "stream_info_unknown_field",
        "stream_info",
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":400,"err_code":10025,"description":"invalid JSON: json: unknown field \"bogus\""},"total":0,"offset":0,"limit":0}"#,
    ),
    (
        "msg_get_missing",
        "stream_msg_get",
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","error":{"code":404,"err_code":10037,"description":"no message found"}}"#,
    ),
    (
        "msg_get_bad",
        "stream_msg_get",
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","error":{"code":400,"err_code":10003,"description":"bad request"}}"#,
    ),
    (
        "stream_purge_notfound",
        "stream_purge",
        r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"purged":0}"#,
    ),
    (
        "names_unknown",
        "stream_names",
        r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","error":{"code":400,"err_code":10025,"description":"invalid JSON: json: unknown field \"bogus\""},"total":0,"offset":0,"limit":0,"streams":null}"#,
    ),
    (
        "list_unknown",
        "stream_list",
        r#"{"type":"io.nats.jetstream.api.v1.stream_list_response","error":{"code":400,"err_code":10025,"description":"invalid JSON: json: unknown field \"bogus\""},"total":0,"offset":0,"limit":0,"streams":[]}"#,
    ),
    (
        "cnames_missing_stream",
        "consumer_names",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0,"consumers":[]}"#,
    ),
    (
        "clist_missing_stream",
        "consumer_list",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_list_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0,"consumers":[]}"#,
    ),
    (
        "consumer_info_notfound",
        "consumer_info",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_info_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}}"#,
    ),
    (
        "consumer_create_durable_pull_again_diff",
        "consumer_create",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","error":{"code":400,"err_code":10148,"description":"consumer already exists"}}"#,
    ),
    (
        "consumer_update_missing",
        "consumer_create",
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","error":{"code":400,"err_code":10149,"description":"consumer does not exist"}}"#,
    ),
    (
        "stream_msg_delete_again",
        "stream_msg_delete",
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","error":{"code":400,"err_code":10043,"description":"sequence 2 not found"}}"#,
    ),
    (
        "stream_delete_notfound",
        "stream_delete",
        r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#,
    ),
    (
        "purge_seq_keep",
        "stream_purge",
        r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","error":{"code":400,"err_code":10003,"description":"bad request"},"purged":0}"#,
    ),
    (
        "stream_info_req_level",
        "stream_info",
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":412,"err_code":10185,"description":"JetStream minimum api level required"},"total":0,"offset":0,"limit":0}"#,
    ),
];

/// Publish acks.
const PUB_ACKS: &[&str] = &[
    r#"{"stream":"ORDERS","seq":1}"#,
    r#"{"stream":"ORDERS","seq":4,"duplicate": true}"#,
];
/// Failed publish acks.
const PUB_ERRS: &[&str] = &[
    r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"},"stream":"ORDERS","seq":0}"#,
    r#"{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: "},"stream":"ORDERS","seq":0}"#,
    r#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},"stream":"ORDERS","seq":0}"#,
    r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"},"stream":"ORDERS","seq":0}"#,
    r#"{"error":{"code":400,"err_code":10166,"description":"per-message TTL is disabled"},"stream":"ORDERS","seq":0}"#,
    r#"{"error":{"code":500,"err_code":10111,"description":"rollup not permitted"},"stream":"ORDERS","seq":0}"#,
    r#"{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"FULL","seq":0}"#,
    r#"{"error":{"code":400,"err_code":10165,"description":"invalid per-message TTL"},"stream":"FULL","seq":0}"#,
    r#"{"error":{"code":503,"err_code":10077,"description":"maximum messages per subject exceeded"},"stream":"FULL","seq":0}"#,
    r#"{"error":{"code":400,"err_code":10109,"description":"invalid operation on sealed stream"},"stream":"SL2","seq":0}"#,
];

/// Request bodies that 2.15 accepted.
const REQUESTS: &[(&str, &str)] = &[
    (
        "stream_create_full",
        r#"{"name": "FULL", "description": "d", "subjects": ["full.>"], "retention": "limits", "max_consumers": 10, "max_msgs": 100, "max_bytes": 100000, "max_age": 3600000000000, "max_msgs_per_subject": 5, "max_msg_size": 1024, "discard": "new", "discard_new_per_subject": true, "storage": "memory", "num_replicas": 1, "no_ack": false, "duplicate_window": 60000000000, "sealed": false, "deny_delete": true, "deny_purge": false, "allow_rollup_hdrs": true, "allow_direct": true, "mirror_direct": false, "allow_msg_ttl": true, "subject_delete_marker_ttl": 5000000000, "compression": "none", "first_seq": 10, "metadata": {"a": "b"}, "consumer_limits": {"inactive_threshold": 10000000000, "max_ack_pending": 50}, "allow_msg_counter": false, "allow_atomic": true, "allow_msg_schedules": false, "persist_mode": "default", "republish": {"src": "full.>", "dest": "rp.>"}, "subject_transform": {"src": "full.>", "dest": "full.>"}, "placement": {"cluster": "", "tags": []}}"#,
    ),
    (
        "stream_create_min",
        r#"{"name": "ORDERS", "subjects": ["orders.>"]}"#,
    ),
    (
        "stream_create_counter",
        r#"{"name": "CNT", "allow_msg_counter": true, "persist_mode": "async", "allow_msg_schedules": false}"#,
    ),
    (
        "consumer_create_full",
        r#"{"stream_name": "ORDERS", "config": {"durable_name": "full", "name": "full", "description": "desc", "deliver_policy": "by_start_sequence", "opt_start_seq": 2, "ack_policy": "all", "ack_wait": 10000000000, "max_deliver": 5, "backoff": [10000000000, 20000000000], "filter_subject": "orders.new", "replay_policy": "instant", "sample_freq": "50%", "max_waiting": 10, "max_ack_pending": 20, "headers_only": true, "max_batch": 5, "max_expires": 60000000000, "max_bytes": 1000, "inactive_threshold": 60000000000, "num_replicas": 1, "mem_storage": true, "metadata": {"k": "v"}, "priority_policy": "pinned_client", "priority_groups": ["g1"]}}"#,
    ),
    (
        "consumer_create_starttime",
        r#"{"stream_name": "ORDERS", "config": {"durable_name": "st", "deliver_policy": "by_start_time", "opt_start_time": "2020-01-02T03:04:05.123456789Z", "ack_policy": "explicit", "filter_subjects": ["orders.new", "orders.hdr"], "pause_until": "2099-01-01T00:00:00Z"}}"#,
    ),
    (
        "consumer_create_push",
        r#"{"stream_name": "ORDERS", "config": {"name": "push1", "durable_name": "push1", "deliver_subject": "dlv.push1", "ack_policy": "none", "deliver_group": "q"}}"#,
    ),
    ("stream_info_subjects", r#"{"subjects_filter": ">"}"#),
    ("stream_info_deleted", r#"{"deleted_details": true}"#),
    (
        "msg_get_next",
        r#"{"seq": 2, "next_by_subj": "orders.new"}"#,
    ),
    ("stream_purge_filter", r#"{"filter": "orders.hdr"}"#),
    ("stream_msg_delete", r#"{"seq": 2}"#),
];

/// Consumer create cases: (capture, request, response, stream info of the parent).
const CONSUMER_CASES: &[(&str, &str, &str, &str)] = &[
    (
        "consumer_create_durable_pull",
        r#"{"stream_name": "ORDERS", "config": {"durable_name": "dur1", "ack_policy": "explicit"}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"dur1","created":"2026-11-27T09:29:41.146245283Z","config":{"durable_name":"dur1","name":"dur1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:41.146625079Z"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
    (
        "consumer_create_ephemeral_pull",
        r#"{"stream_name": "ORDERS", "config": {"ack_policy": "explicit"}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"orMKzO1I","created":"2026-11-27T09:29:41.147573654Z","config":{"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:41.147819851Z"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
    (
        "consumer_create_push",
        r#"{"stream_name": "ORDERS", "config": {"name": "push1", "durable_name": "push1", "deliver_subject": "dlv.push1", "ack_policy": "none", "deliver_group": "q"}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"push1","created":"2026-11-27T09:29:41.148154821Z","config":{"durable_name":"push1","name":"push1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"dlv.push1","deliver_group":"q","num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:41.148394598Z"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
    (
        "consumer_create_push_eph",
        r#"{"stream_name": "ORDERS", "config": {"deliver_subject": "dlv.e", "ack_policy": "explicit", "flow_control": true, "idle_heartbeat": 5000000000}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"cITBHjPj","created":"2026-11-27T09:29:41.148703299Z","config":{"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_ack_pending":1000,"flow_control":true,"deliver_subject":"dlv.e","idle_heartbeat":5000000000,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:29:41.148979651Z"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
    (
        "consumer_create_full",
        r#"{"stream_name": "ORDERS", "config": {"durable_name": "full", "name": "full", "description": "desc", "deliver_policy": "by_start_sequence", "opt_start_seq": 2, "ack_policy": "all", "ack_wait": 10000000000, "max_deliver": 5, "backoff": [10000000000, 20000000000], "filter_subject": "orders.new", "replay_policy": "instant", "sample_freq": "50%", "max_waiting": 10, "max_ack_pending": 20, "headers_only": true, "max_batch": 5, "max_expires": 60000000000, "max_bytes": 1000, "inactive_threshold": 60000000000, "num_replicas": 1, "mem_storage": true, "metadata": {"k": "v"}, "priority_policy": "pinned_client", "priority_groups": ["g1"]}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"full","created":"2026-11-27T09:29:41.14940796Z","config":{"durable_name":"full","name":"full","description":"desc","deliver_policy":"by_start_sequence","opt_start_seq":2,"ack_policy":"all","ack_wait":10000000000,"max_deliver":5,"backoff":[10000000000,20000000000],"filter_subject":"orders.new","replay_policy":"instant","sample_freq":"50%","max_waiting":10,"max_ack_pending":20,"headers_only":true,"max_batch":5,"max_expires":60000000000,"max_bytes":1000,"inactive_threshold":60000000000,"num_replicas":1,"mem_storage":true,"metadata":{"_nats.level":"5","_nats.req.level":"1","_nats.ver":"2.15.1","k":"v"},"priority_groups":["g1"],"priority_policy":"pinned_client","priority_timeout":120000000000},"delivered":{"consumer_seq":0,"stream_seq":1},"ack_floor":{"consumer_seq":0,"stream_seq":1},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":2,"ts":"2026-11-27T09:29:41.149460618Z","priority_groups":[{"group":"g1","pinned_ts":"0001-01-01T00:00:00Z"}]}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
    (
        "consumer_create_starttime",
        r#"{"stream_name": "ORDERS", "config": {"durable_name": "st", "deliver_policy": "by_start_time", "opt_start_time": "2020-01-02T03:04:05.123456789Z", "ack_policy": "explicit", "filter_subjects": ["orders.new", "orders.hdr"], "pause_until": "2099-01-01T00:00:00Z"}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"st","created":"2026-11-27T09:29:41.149848056Z","config":{"durable_name":"st","name":"st","deliver_policy":"by_start_time","opt_start_time":"2020-01-02T03:04:05.123456789Z","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subjects":["orders.new","orders.hdr"],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"1","_nats.ver":"2.15.1"},"pause_until":"2099-01-01T00:00:00Z"},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":4,"paused":true,"pause_remaining":2275137018849864585,"ts":"2026-11-27T09:29:41.150135094Z"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
    (
        "cc_no_config_ack",
        r#"{"stream_name": "ORDERS", "config": {"name": "def"}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"def","created":"2026-11-27T09:30:23.272161898Z","config":{"name":"def","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":6},"ack_floor":{"consumer_seq":0,"stream_seq":6},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":0,"ts":"2026-11-27T09:30:23.272347906Z"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
    (
        "cc_maxcons",
        r#"{"stream_name": "FULL", "config": {"name": "m1"}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"FULL","name":"m1","created":"2026-11-27T09:30:23.274685893Z","config":{"name":"m1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":50,"inactive_threshold":10000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":9},"ack_floor":{"consumer_seq":0,"stream_seq":9},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":5,"ts":"2026-11-27T09:30:23.274705272Z"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"FULL","description":"d","subjects":["full.\u003e"],"retention":"limits","max_consumers":10,"max_msgs":100,"max_bytes":100000,"max_age":3600000000000,"max_msgs_per_subject":5,"max_msg_size":1024,"discard":"new","storage":"memory","num_replicas":1,"duplicate_window":60000000000,"placement":{},"compression":"none","first_seq":10,"subject_transform":{"src":"full.\u003e","dest":"full.\u003e"},"republish":{"src":"full.\u003e","dest":"rp.\u003e"},"allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{"inactive_threshold":10000000000,"max_ack_pending":50},"allow_msg_ttl":true,"subject_delete_marker_ttl":5000000000,"allow_atomic":true,"metadata":{"_nats.level":"5","_nats.req.level":"2","_nats.ver":"2.15.1","a":"b"}},"created":"2026-11-27T09:29:41.131354333Z","state":{"messages":5,"bytes":115,"first_seq":10,"first_ts":"2026-11-27T09:29:41.13821109Z","last_seq":14,"last_ts":"2026-11-27T09:29:41.13893551Z","num_subjects":1,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.141726022Z"}"#,
    ),
    (
        "cc_legacy_ephemeral",
        r#"{"stream_name": "ORDERS", "config": {"deliver_subject": "dd2"}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS","name":"1K62rgjj","created":"2026-11-27T09:30:23.273470129Z","config":{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"dd2","inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":6},"ack_floor":{"consumer_seq":0,"stream_seq":6},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":0,"ts":"2026-11-27T09:30:23.273748024Z"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
    (
        "wq_c1",
        r#"{"stream_name": "WQ", "config": {"durable_name": "b", "ack_policy": "explicit"}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"WQ","name":"b","created":"2026-11-27T09:30:23.266311903Z","config":{"durable_name":"b","name":"b","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":0,"ts":"2026-11-27T09:30:23.266742445Z"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":5,"bytes":293,"first_seq":1,"first_ts":"2026-11-27T09:29:41.135316232Z","last_seq":5,"last_ts":"2026-11-27T09:29:41.136368321Z","num_subjects":2,"consumer_count":0},"cluster":{"leader":"testsrv"},"ts":"2026-11-27T09:29:41.13935133Z"}"#,
    ),
];
/// Stream create cases: (capture, request, response).
const STREAM_CASES: &[(&str, &str, &str)] = &[
    (
        "stream_create_min",
        r#"{"name": "ORDERS", "subjects": ["orders.>"]}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.128673825Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.129434269Z","did_create":true}"#,
    ),
    (
        "stream_create_nosubj",
        r#"{"name": "PLAIN"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"PLAIN","subjects":["PLAIN"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.130606648Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.130948898Z","did_create":true}"#,
    ),
    (
        "stream_create_full",
        r#"{"name": "FULL", "description": "d", "subjects": ["full.>"], "retention": "limits", "max_consumers": 10, "max_msgs": 100, "max_bytes": 100000, "max_age": 3600000000000, "max_msgs_per_subject": 5, "max_msg_size": 1024, "discard": "new", "discard_new_per_subject": true, "storage": "memory", "num_replicas": 1, "no_ack": false, "duplicate_window": 60000000000, "sealed": false, "deny_delete": true, "deny_purge": false, "allow_rollup_hdrs": true, "allow_direct": true, "mirror_direct": false, "allow_msg_ttl": true, "subject_delete_marker_ttl": 5000000000, "compression": "none", "first_seq": 10, "metadata": {"a": "b"}, "consumer_limits": {"inactive_threshold": 10000000000, "max_ack_pending": 50}, "allow_msg_counter": false, "allow_atomic": true, "allow_msg_schedules": false, "persist_mode": "default", "republish": {"src": "full.>", "dest": "rp.>"}, "subject_transform": {"src": "full.>", "dest": "full.>"}, "placement": {"cluster": "", "tags": []}}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"FULL","description":"d","subjects":["full.\u003e"],"retention":"limits","max_consumers":10,"max_msgs":100,"max_bytes":100000,"max_age":3600000000000,"max_msgs_per_subject":5,"max_msg_size":1024,"discard":"new","storage":"memory","num_replicas":1,"duplicate_window":60000000000,"placement":{},"compression":"none","first_seq":10,"subject_transform":{"src":"full.\u003e","dest":"full.\u003e"},"republish":{"src":"full.\u003e","dest":"rp.\u003e"},"allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{"inactive_threshold":10000000000,"max_ack_pending":50},"allow_msg_ttl":true,"subject_delete_marker_ttl":5000000000,"allow_atomic":true,"metadata":{"_nats.level":"5","_nats.req.level":"2","_nats.ver":"2.15.1","a":"b"}},"created":"2026-11-27T09:29:41.131354333Z","state":{"messages":0,"bytes":0,"first_seq":10,"first_ts":"0001-01-01T00:00:00Z","last_seq":9,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.131436796Z","did_create":true}"#,
    ),
    (
        "stream_create_counter",
        r#"{"name": "CNT", "allow_msg_counter": true, "persist_mode": "async", "allow_msg_schedules": false}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"CNT","subjects":["CNT"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"allow_msg_counter":true,"persist_mode":"async","metadata":{"_nats.level":"5","_nats.req.level":"2","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.133878257Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.134279185Z","did_create":true}"#,
    ),
    (
        "stream_create_sched",
        r#"{"name": "SCH", "allow_msg_schedules": true, "compression": "s2", "persist_mode": "async"}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"SCH","subjects":["SCH"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"s2","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{},"allow_msg_ttl":false,"allow_msg_schedules":true,"persist_mode":"async","metadata":{"_nats.level":"5","_nats.req.level":"2","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:29:41.13460429Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:29:41.13500647Z","did_create":true}"#,
    ),
    (
        "create_wq",
        r#"{"name": "WQ", "retention": "workqueue", "max_consumers": 1}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"WQ","subjects":["WQ"],"retention":"workqueue","max_consumers":1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:30:23.265434775Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:30:23.265868702Z","did_create":true}"#,
    ),
    (
        "create_deny",
        r#"{"name": "DENY", "deny_delete": true, "deny_purge": true}"#,
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"DENY","subjects":["DENY"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":true,"deny_purge":true,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}},"created":"2026-11-27T09:30:23.267519875Z","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"ts":"2026-11-27T09:30:23.267895905Z","did_create":true}"#,
    ),
];

fn v(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

fn v_bytes(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap()
}

fn kind_of(json: &str) -> String {
    let t = v(json)["type"].as_str().unwrap().to_string();
    t.trim_start_matches(API_TYPE_PREFIX)
        .trim_end_matches("_response")
        .to_string()
}

/// Decode into the typed envelope, re-serialise both ways (serde and `ok_response`),
/// and require exactly the captured value: same key sets at every level, same values.
fn roundtrip<T>(cases: &[(&str, &str)])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    for (name, json) in cases {
        let want = v(json);
        let typed: ApiResponse<T> =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: decode: {e}"));
        let again = serde_json::to_value(&typed).unwrap();
        assert_eq!(again, want, "{name}: serde round trip differs");
        if typed.error.is_some() {
            assert!(
                typed.body.is_none(),
                "{name}: error responses carry no body"
            );
            continue;
        }
        let body = typed.body.expect("success body");
        let bytes = ok_response(&kind_of(json), &body);
        assert_eq!(v_bytes(&bytes), want, "{name}: ok_response differs");
        assert!(
            bytes.starts_with(b"{\"type\":"),
            "{name}: type must be first"
        );
    }
}

#[test]
fn success_responses_roundtrip_exactly() {
    roundtrip::<AccountInfo>(ACCOUNTINFORESPONSE);
    roundtrip::<StreamNamesBody>(STREAMNAMESRESPONSE);
    roundtrip::<StreamListBody>(STREAMLISTRESPONSE);
    roundtrip::<StreamCreateBody>(STREAMCREATERESPONSE);
    roundtrip::<StreamInfoBody>(STREAMINFORESPONSE);
    roundtrip::<StreamInfo>(STREAMUPDATERESPONSE);
    roundtrip::<SuccessBody>(SUCCESSRESPONSE);
    roundtrip::<StreamPurgeBody>(STREAMPURGERESPONSE);
    roundtrip::<MsgGetBody>(MSGGETRESPONSE);
    roundtrip::<ConsumerNamesBody>(CONSUMERNAMESRESPONSE);
    roundtrip::<ConsumerListBody>(CONSUMERLISTRESPONSE);
    roundtrip::<ConsumerInfo>(CONSUMERCREATERESPONSE);
    roundtrip::<ConsumerInfo>(CONSUMERINFORESPONSE);
}

#[test]
fn error_responses_match_server_bytes() {
    for (name, kind, json) in ERRORS {
        let want = v(json);
        let err: ApiError = serde_json::from_value(want["error"].clone()).unwrap();
        let got = v_bytes(&error_response(kind, &err));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn pub_acks_match() {
    for json in PUB_ACKS {
        let ack: PubAck = serde_json::from_str(json).unwrap();
        assert_eq!(v_bytes(&ack.to_bytes()), v(json));
    }
    for json in PUB_ERRS {
        let want = v(json);
        let err: ApiError = serde_json::from_value(want["error"].clone()).unwrap();
        let stream = want["stream"].as_str().unwrap();
        assert_eq!(v_bytes(&pub_ack_error(stream, "", &err)), want);
    }
}

#[test]
fn accepted_requests_decode_strictly() {
    for (name, json) in REQUESTS {
        let b = json.as_bytes();
        let ok = match *name {
            n if n.starts_with("stream_create") => decode_request::<StreamConfig>(b).is_ok(),
            n if n.starts_with("consumer_create") => {
                decode_request::<CreateConsumerRequest>(b).is_ok()
            }
            n if n.starts_with("stream_info") => decode_request::<StreamInfoRequest>(b).is_ok(),
            n if n.starts_with("msg_get") => decode_request::<MsgGetRequest>(b).is_ok(),
            n if n.starts_with("stream_purge") => decode_request::<StreamPurgeRequest>(b).is_ok(),
            n if n.starts_with("stream_msg_delete") => {
                decode_request::<MsgDeleteRequest>(b).is_ok()
            }
            _ => unreachable!(),
        };
        assert!(ok, "{name} should decode");
    }
}

#[test]
fn unknown_fields_rejected_like_go() {
    let want = |name: &str| -> ApiError {
        let (_, _, json) = ERRORS.iter().find(|(n, _, _)| *n == name).unwrap();
        serde_json::from_value(v(json)["error"].clone()).unwrap()
    };
    let e = decode_request::<StreamConfig>(br#"{"name":"UNK","subjects":["unk"],"bogus_field":1}"#)
        .unwrap_err();
    assert_eq!(e, want("stream_create_unknown_field"));
    let e = decode_request::<StreamInfoRequest>(br#"{"bogus":1}"#).unwrap_err();
    assert_eq!(e, want("stream_info_unknown_field"));
    let e = decode_request::<CreateConsumerRequest>(
        br#"{"stream_name":"ORDERS","config":{"durable_name":"u","bogus":1}}"#,
    )
    .unwrap_err();
    assert_eq!(e.description, "invalid JSON: json: unknown field \"bogus\"");
    let e = decode_request::<StreamConfig>(br#"{"name":"BR","retention":"bogus"}"#).unwrap_err();
    assert_eq!(
        e.description,
        r#"invalid JSON: can not unmarshal "\"bogus\"""#
    );
    // Empty body decodes to defaults (Go's decoder sees EOF and leaves the zero value).
    assert_eq!(
        decode_request::<StreamNamesRequest>(b"").unwrap(),
        Default::default()
    );
    // Pull requests are lenient.
    let n: NextRequest = serde_json::from_str(r#"{"batch":1,"bogus":1}"#).unwrap();
    assert_eq!(n.batch, 1);
    // pedantic is accepted on STREAM.CREATE but never serialised.
    let c = decode_request::<StreamConfig>(br#"{"name":"P","pedantic":true}"#).unwrap();
    assert!(c.pedantic && !serde_json::to_string(&c).unwrap().contains("pedantic"));
}

#[test]
fn stream_normalized_matches_server() {
    for (name, req, resp) in STREAM_CASES {
        let want = v(resp)["config"].clone();
        let mut cfg = decode_request::<StreamConfig>(req.as_bytes())
            .unwrap()
            .normalized();
        cfg.set_static_metadata();
        let got = serde_json::to_value(cfg.with_dynamic_metadata("2.15.1")).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn consumer_normalized_matches_server() {
    for (name, req, resp, stream) in CONSUMER_CASES {
        let stream: StreamInfoResponse = serde_json::from_str(stream).unwrap();
        let scfg = stream.body.unwrap().info.config;
        let want = v(resp)["config"].clone();
        let req = decode_request::<CreateConsumerRequest>(req.as_bytes()).unwrap();
        let mut cfg = req.config.normalized(&scfg);
        cfg.set_static_metadata();
        let got = serde_json::to_value(cfg.with_dynamic_metadata("2.15.1")).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn times_roundtrip() {
    assert_eq!(format_time(0), ZERO_TIME);
    assert_eq!(parse_time(ZERO_TIME), Some(0));
    let t = 1_577_934_245_123_456_789;
    assert_eq!(format_time(t), "2020-01-02T03:04:05.123456789Z");
    assert_eq!(parse_time("2020-01-02T03:04:05.123456789Z"), Some(t));
    assert_eq!(parse_time("2020-01-02T05:04:05.123456789+02:00"), Some(t));
    for s in [
        "2026-11-27T09:29:41.128673825Z",
        "2026-11-27T09:30:23.27763416Z",
        "2099-01-01T00:00:00Z",
        "1969-12-31T23:59:59.5Z",
        "2024-02-29T12:00:00.1Z",
    ] {
        assert_eq!(format_time(parse_time(s).unwrap()), s);
    }
    assert_eq!(
        canonical_time("2020-01-01T00:00:00.500Z"),
        "2020-01-01T00:00:00.5Z"
    );
    assert_eq!(parse_time("garbage"), None);
    assert_eq!(parse_time("2020-13-01T00:00:00Z"), None);
    assert_eq!(parse_time("0500-01-01T00:00:00Z"), None);
}

#[test]
fn names() {
    assert!(check_name("ORDERS") && check_name("a-b_c") && check_name(&"x".repeat(255)));
    for bad in [
        "",
        "a.b",
        "a*",
        "a>",
        "a b",
        "a\tb",
        "a/b",
        "a\\b",
        &"x".repeat(256),
    ] {
        assert!(!check_name(bad), "{bad:?}");
    }
}

#[test]
fn constructors_match_captured_texts() {
    let cases: Vec<(ApiError, &str)> = vec![
        (
            ApiError::stream_not_found(),
            r#"{"code":404,"err_code":10059,"description":"stream not found"}"#,
        ),
        (
            ApiError::stream_name_exist(),
            r#"{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}"#,
        ),
        (
            ApiError::consumer_not_found(),
            r#"{"code":404,"err_code":10014,"description":"consumer not found"}"#,
        ),
        (
            ApiError::no_message_found(),
            r#"{"code":404,"err_code":10037,"description":"no message found"}"#,
        ),
        (
            ApiError::stream_wrong_last_sequence(5),
            r#"{"code":400,"err_code":10071,"description":"wrong last sequence: 5"}"#,
        ),
        (
            ApiError::stream_wrong_last_msg_id(""),
            r#"{"code":400,"err_code":10070,"description":"wrong last msg ID: "}"#,
        ),
        (
            ApiError::stream_not_match(),
            r#"{"code":400,"err_code":10060,"description":"expected stream does not match"}"#,
        ),
        (
            ApiError::stream_message_exceeds_maximum(),
            r#"{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}"#,
        ),
        (
            ApiError::stream_store_failed("maximum messages per subject exceeded"),
            r#"{"code":503,"err_code":10077,"description":"maximum messages per subject exceeded"}"#,
        ),
        (
            ApiError::stream_rollup_failed("rollup not permitted"),
            r#"{"code":500,"err_code":10111,"description":"rollup not permitted"}"#,
        ),
        (
            ApiError::message_ttl_disabled(),
            r#"{"code":400,"err_code":10166,"description":"per-message TTL is disabled"}"#,
        ),
        (
            ApiError::message_ttl_invalid(),
            r#"{"code":400,"err_code":10165,"description":"invalid per-message TTL"}"#,
        ),
        (
            ApiError::consumer_already_exists(),
            r#"{"code":400,"err_code":10148,"description":"consumer already exists"}"#,
        ),
        (
            ApiError::consumer_does_not_exist(),
            r#"{"code":400,"err_code":10149,"description":"consumer does not exist"}"#,
        ),
        (
            ApiError::stream_invalid_config("max age needs to be >= 100ms"),
            r#"{"code":500,"err_code":10052,"description":"max age needs to be \u003e= 100ms"}"#,
        ),
        (
            ApiError::stream_subject_overlap(),
            r#"{"code":400,"err_code":10065,"description":"subjects overlap with an existing stream"}"#,
        ),
        (
            ApiError::stream_mismatch(),
            r#"{"code":400,"err_code":10056,"description":"stream name in subject does not match request"}"#,
        ),
        (
            ApiError::sequence_not_found(2),
            r#"{"code":400,"err_code":10043,"description":"sequence 2 not found"}"#,
        ),
        (
            ApiError::stream_sealed(),
            r#"{"code":400,"err_code":10109,"description":"invalid operation on sealed stream"}"#,
        ),
        (
            ApiError::bad_request(),
            r#"{"code":400,"err_code":10003,"description":"bad request"}"#,
        ),
        (
            ApiError::maximum_consumers_limit(),
            r#"{"code":400,"err_code":10026,"description":"maximum consumers limit reached"}"#,
        ),
        (
            ApiError::consumer_max_pending_ack_policy_required(),
            r#"{"code":400,"err_code":10082,"description":"consumer requires ack policy for max ack pending"}"#,
        ),
        (
            ApiError::consumer_name_contains_path_separators(),
            r#"{"code":400,"err_code":10127,"description":"Consumer name can not contain path separators"}"#,
        ),
        (
            ApiError::stream_replicas_not_supported(),
            r#"{"code":500,"err_code":10074,"description":"replicas \u003e 1 not supported in non-clustered mode"}"#,
        ),
        (
            ApiError::stream_msg_delete_failed("message delete not permitted"),
            r#"{"code":500,"err_code":10057,"description":"message delete not permitted"}"#,
        ),
        (
            ApiError::stream_purge_failed("stream purge not permitted"),
            r#"{"code":500,"err_code":10110,"description":"stream purge not permitted"}"#,
        ),
        (
            ApiError::required_api_level(),
            r#"{"code":412,"err_code":10185,"description":"JetStream minimum api level required"}"#,
        ),
        (
            ApiError::consumer_durable_name_not_match_subject(),
            r#"{"code":400,"err_code":10017,"description":"consumer name in subject does not match durable name in request"}"#,
        ),
        (
            ApiError::consumer_with_flow_control_needs_heartbeats(),
            r#"{"code":400,"err_code":10108,"description":"consumer with flow control also needs heartbeats"}"#,
        ),
        (
            ApiError::not_enabled(),
            r#"{"code":503,"err_code":10076,"description":"JetStream not enabled"}"#,
        ),
    ];
    for (e, json) in cases {
        assert_eq!(serde_json::to_value(&e).unwrap(), v(json), "{e}");
    }
}
