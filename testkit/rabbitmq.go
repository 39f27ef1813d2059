package testkit

import (
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultRabbitMQURL is the machine's RabbitMQ, used when
// SKER_TEST_RABBITMQ_URL is not set.
const DefaultRabbitMQURL = "amqp://guest:guest@127.0.0.1:5672/"

// RabbitMQURL returns the RabbitMQ tests use (SKER_TEST_RABBITMQ_URL, or
// DefaultRabbitMQURL), after checking that it answers; one that does not
// fails the test with how to start it.
func RabbitMQURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("SKER_TEST_RABBITMQ_URL")
	if url == "" {
		url = DefaultRabbitMQURL
	}
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		t.Fatalf("testkit: RabbitMQ does not answer (%v); start it with\n\trabbitmq-server -detached\n"+
			"(scripts/services.sh starts every service) or set SKER_TEST_RABBITMQ_URL", err)
	}
	_ = conn.Close()
	return url
}

// RabbitMQ opens a connection of the test's own to RabbitMQ, closed when
// the test ends.
func RabbitMQ(t testing.TB) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(RabbitMQURL(t))
	if err != nil {
		t.Fatalf("testkit: RabbitMQ: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// UniqueName returns prefix followed by a random suffix, for the queues
// and exchanges of one test.
func UniqueName(prefix string) string { return prefix + "." + randomHex(6) }
