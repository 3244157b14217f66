<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 422 unknown_event: an event the instance's workflow version can never await; the message names those it can. */
class UnknownEventException extends OrbitException
{
}
