// The Go program from the seed document's "Using JetStream for Persistent Messaging"
// section (nats.go), changed only where it has to be to run against a single local
// sluice (or nats-server) and to be usable in a test:
//   - the server URL comes from NATS_URL (default nats://127.0.0.1:4222) instead of the
//     in-cluster nats://nats.nats.svc.cluster.local:4222;
//   - the stream has Replicas: 1 instead of 3 (one node, see below);
//   - EXIT_AFTER=N makes it flush its acks and exit 0 after processing N messages;
//     unset (or 0), it loops forever like the seed.
package main

import (
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	// Not in the seed: where to connect, and when to stop (for tests).
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	exitAfter := 0
	if s := os.Getenv("EXIT_AFTER"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			log.Fatalf("EXIT_AFTER must be a non-negative integer, got %q", s)
		}
		exitAfter = n
	}
	processed := 0

	// Connect to NATS
	nc, err := nats.Connect(url)
	if err != nil {
		log.Fatalf("Failed to connect: %v", err)
	}
	defer nc.Close()

	// Create a JetStream context
	// JetStream provides persistent, replicated message streams
	js, err := nc.JetStream()
	if err != nil {
		log.Fatalf("Failed to create JetStream context: %v", err)
	}

	// Create a stream that captures all events
	// The stream persists messages to disk with replication
	_, err = js.AddStream(&nats.StreamConfig{
		Name:      "EVENTS",                // Stream name (uppercase convention)
		Subjects:  []string{"events.>"},    // Subjects captured by this stream
		Retention: nats.LimitsPolicy,       // Retain based on limits
		MaxAge:    24 * time.Hour * 7,      // Keep messages for 7 days
		MaxBytes:  1024 * 1024 * 1024 * 10, // 10 GB max storage
		// The seed has Replicas: 3 (replicate across 3 NATS nodes). This runs against a
		// single server, and a stream cannot have more replicas than there are nodes,
		// so: one replica.
		Replicas: 1,
		Storage:  nats.FileStorage, // Use file storage (not memory)
		Discard:  nats.DiscardOld,  // Discard oldest when limits hit
	})
	if err != nil {
		log.Fatalf("Failed to create stream: %v", err)
	}

	// Create a durable consumer
	// Durable consumers remember their position across restarts
	_, err = js.AddConsumer("EVENTS", &nats.ConsumerConfig{
		Durable:       "event-processor",      // Consumer name
		DeliverPolicy: nats.DeliverAllPolicy,  // Start from the beginning
		AckPolicy:     nats.AckExplicitPolicy, // Require explicit acks
		MaxDeliver:    5,                      // Retry up to 5 times
		AckWait:       30 * time.Second,       // Wait 30s for ack before redelivery
	})
	if err != nil {
		log.Fatalf("Failed to create consumer: %v", err)
	}

	// Subscribe using the durable consumer
	sub, err := js.PullSubscribe("events.>", "event-processor")
	if err != nil {
		log.Fatalf("Failed to subscribe: %v", err)
	}

	// Pull and process messages in batches
	for {
		// Fetch up to 10 messages at a time
		msgs, err := sub.Fetch(10, nats.MaxWait(5*time.Second))
		if err != nil {
			continue
		}

		for _, msg := range msgs {
			fmt.Printf("Processing: %s\n", string(msg.Data))

			// Acknowledge the message after successful processing
			// If not acked, NATS will redeliver after AckWait
			msg.Ack()

			// Not in the seed: stop after EXIT_AFTER messages. Ack() only buffers the
			// ack, so flush it to the server before exiting.
			processed++
			if exitAfter > 0 && processed >= exitAfter {
				if err := nc.Flush(); err != nil {
					log.Fatalf("Failed to flush acks: %v", err)
				}
				return
			}
		}
	}
}
